"""The events portals receive: their types, the envelope, and what each type's ``data`` may carry.

Audit events keep everything (form data, objection texts); a webhook carries only the fields
listed here, so no applicant's name, ID number, phone, income or illness ever leaves by this
path, whatever the subscriber's grants are. Receivers read details through the API, where
their grants apply.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmittedData(_Data):
    program: str
    version: int
    division_code: str


class StatusChangedData(_Data):
    from_: str = Field(alias="from")
    to: Literal["in_progress", "approved", "refused", "withdrawn", "terminated"]


class OutcomeData(_Data):
    status: Literal["approved", "refused", "withdrawn", "terminated"]


class TaskCreatedData(_Data):
    role: str
    division_code: str
    due_at: datetime | None


class TaskClaimedData(_Data):
    assignee: str | None


class TaskCompletedData(_Data):
    decision: str | None = Field(None, description="the step's decision field, when its form has one")


class TaskDeadlineData(_Data):
    due_at: datetime
    assignee: str | None
    role: str
    division_code: str


class NoticeOpenedData(_Data):
    notice_id: str
    entry_id: str
    entry_number: int
    round: int
    ends_at: datetime


class NoticeClosedData(_Data):
    notice_id: str


class ObjectionReceivedData(_Data):
    objection_number: str
    notice_id: str
    entry_id: str


class MessageReceivedData(_Data):
    name: str


class DefinitionDeployedData(_Data):
    key: str
    version: int
    name: str


class PingData(_Data):
    subscription_id: str


class NoData(_Data):
    """Nothing beyond the event's case and task (an urge, a withdrawn step, an opinion given)."""


class ReturnedData(_Data):
    to: str = Field(description="the earlier step the case went back to")


class HandedData(_Data):
    to: str = Field(description="the user the task was transferred or delegated to")


class SignersData(_Data):
    usernames: list[str]
    position: Literal["before", "after"]


class SignerRemovedData(_Data):
    username: str


class SignedData(_Data):
    decision: Literal["approve", "refuse"]


class CopiedData(_Data):
    usernames: list[str]
    roles: list[str]


class NotifiedData(_Data):
    level: str = Field(description="the level informed without a task (备案, 知悉)")
    division_code: str | None
    purpose: str


class AttachmentAddedData(_Data):
    """That a document was added, never what it is called or holds (read it through the API)."""

    key: str = Field(description="the checklist item it was added for")
    size: int


class PaymentBatchData(_Data):
    """A payment batch's counts and sums (money/payment_events.py): never a recipient, ID number or account."""

    batch_id: int
    county_code: str
    program: str
    pay_date: str
    status: str
    items: int
    total: str = Field(description="yuan, two decimals")
    paid: int
    paid_total: str
    failed: int
    failed_total: str


class PaymentItemFailedData(_Data):
    """One payment the bank refused: which item of which batch, the amount and the bank's reason code
    (read the item through the API for the rest)."""

    batch_id: int
    item_id: int
    county_code: str
    program: str
    period: str
    attempt: int
    amount: str
    reason_code: str | None


# type → model of its ``data``; the order is the order of the docs.
DATA_MODELS: dict[str, type[_Data]] = {
    "application.submitted": SubmittedData,
    "application.status_changed": StatusChangedData,
    "application.approved": OutcomeData,
    "application.refused": OutcomeData,
    "application.withdrawn": OutcomeData,
    "application.terminated": OutcomeData,
    "task.created": TaskCreatedData,
    "task.claimed": TaskClaimedData,
    "task.completed": TaskCompletedData,
    "task.overdue": TaskDeadlineData,
    "task.reminder": TaskDeadlineData,
    "notice.opened": NoticeOpenedData,
    "notice.closed": NoticeClosedData,
    "objection.received": ObjectionReceivedData,
    "message.received": MessageReceivedData,
    "definition.deployed": DefinitionDeployedData,
    "task.returned": ReturnedData,
    "task.withdrawn": NoData,
    "task.transferred": HandedData,
    "task.delegated": HandedData,
    "task.resolved": NoData,
    "task.signers_added": SignersData,
    "task.signer_removed": SignerRemovedData,
    "task.signed": SignedData,
    "task.urged": NoData,
    "case.copied": CopiedData,
    "case.notified": NotifiedData,
    "application.attachment_added": AttachmentAddedData,
    "payment.batch_approved": PaymentBatchData,
    "payment.batch_exported": PaymentBatchData,
    "payment.batch_settled": PaymentBatchData,
    "payment.item_failed": PaymentItemFailedData,
    "webhook.ping": PingData,
}
# Types a subscription may ask for (the ping is sent on request only).
SUBSCRIBABLE = tuple(t for t in DATA_MODELS if t != "webhook.ping")
# A status change to one of these also publishes ``application.<status>``.
OUTCOME_TYPES = {
    "approved": "application.approved",
    "refused": "application.refused",
    "withdrawn": "application.withdrawn",
    "terminated": "application.terminated",
}


def public_data(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the type's schema declares (the audit record keeps the rest)."""
    return {
        field.alias or name: data.get(field.alias or name)
        for name, field in DATA_MODELS[type_].model_fields.items()
    }


class TaskRef(BaseModel):
    id: str
    name: str
    role: str | None = None
    division_code: str | None = None


class Event(BaseModel):
    """The body of every webhook request (the ``data`` schema depends on ``type``)."""

    id: str = Field(description="stable event id (the same for every subscription)")
    type: str
    time: datetime = Field(description="when the change happened, on the service clock")
    application_id: str | None
    program: str | None
    division_code: str | None = Field(description="the case's division (events without a case: null)")
    task: TaskRef | None
    data: dict[str, Any]


def envelope_model(type_: str) -> type[BaseModel]:
    """A concrete model per type, for the OpenAPI ``webhooks`` section."""
    name = "".join(part.capitalize() for part in type_.replace(".", "_").split("_")) + "Event"
    return create_model(
        name,
        __base__=Event,
        __doc__=f"Webhook body of `{type_}`.",
        # A Literal of a value known at run time: right for pydantic, beyond what a type checker can see.
        type=(Literal[type_], ...),  # type: ignore[arg-type]
        data=(DATA_MODELS[type_], ...),
    )
