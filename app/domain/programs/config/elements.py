"""Properties of the elements inside a process (steps, end events, waiting elements) and of messages,
and the whole of a definition's configuration."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.money.ledger import KINDS as BENEFIT_KINDS
from app.domain.programs.config.process import ProcessConfig
from app.domain.programs.config.values import (
    APPROVAL_MODES,
    DEFAULT_SENDERS,
    OUTCOMES,
    SEPARATION_MODES,
    SUBJECT_EFFECTS,
    Checklist,
    Expression,
    Flag,
    Level,
    NamedItems,
    Names,
    ProgramKey,
    PropertyModel,
    Text,
    TimeLimit,
    refused_as,
)


# Literal[a tuple]: see config/values.py on the valid-type ignores.
class BenefitConfig(PropertyModel):
    """What reaching the element pays (an end event, or a step that pays at once)."""

    benefit: Literal[BENEFIT_KINDS] | None = Field(  # type: ignore[valid-type]
        None,
        description="`monthly` or `one_time`: the ledger entry reaching this element records.",
        json_schema_extra=refused_as("invalid_benefit"),
    )
    benefit_amount: Text | None = Field(
        None,
        description="The data variable holding the amount (`amount`; `new_amount` for an adjustment).",
    )
    benefit_category: Text | None = Field(
        None, description="The data variable holding the benefit's category (a short text)."
    )
    benefit_max: Expression | None = Field(
        None, description="Ceiling of the amount, an expression over `settings` (the number included)."
    )
    benefit_min: Expression | None = Field(
        None, description="Floor of the amount, an expression over `settings` (the number included)."
    )
    benefit_when: Expression | None = Field(
        None, description='Pay only when this expression over the data holds (`decision == "approve"`).'
    )
    benefit_cap_exempt: Flag = Field(
        False, description="`true`: not counted against caps (a case conference's decision)."
    )
    benefit_from_age: Expression | None = Field(
        None,
        description="A monthly benefit starts the month after the applicant reaches this age, if later "
        "(an expression over `sex()`).",
    )


class StepConfig(BenefitConfig):
    """Properties of a ``bpmn:userTask``: one step people do."""

    form: Text | None = Field(
        None,
        description="JSON Schema file under `processes/forms/` the step's data must satisfy "
        "(Camunda's `formKey` or `formData` when absent).",
    )
    materials: Checklist = Field(
        (),
        description="材料 this step adds to the program's list (home-visit photos, a signed record), "
        "written like the process's `materials`.",
        json_schema_extra=refused_as("invalid_materials"),
    )
    signatures: Checklist = Field(
        (),
        description="Signatures the step cannot complete without, written like `materials` "
        '(`receiver:受领人签字; when=method == "cash"`): each a signed scan uploaded under '
        "`signature.<key>` or a signature drawn on the task page; `when` reads the case's data and "
        "the step's form.",
        json_schema_extra=refused_as("invalid_signatures"),
    )
    time_limit: TimeLimit | None = Field(
        None,
        description="The step's time limit: `10 working days`, `3 days`, `by day 20` or an ISO duration "
        "(Camunda's `dueDate` when absent).",
        json_schema_extra=refused_as("invalid_time_limit"),
    )
    answers_objections: Flag = Field(
        False, description="`true`: the step re-investigates objections and records their outcomes."
    )
    separation_of_duties: Literal[SEPARATION_MODES] | None = Field(  # type: ignore[valid-type]
        None,
        description="`none`, `review` or `strict`; when absent, `review` for a form with a `decision`.",
    )
    approval_mode: Literal[APPROVAL_MODES] | None = Field(  # type: ignore[valid-type]
        None,
        description="会签/或签/依次: `all`, `any` or `sequence` of deciders vote instead of the holder deciding.",
        json_schema_extra=refused_as("invalid_approval_mode"),
    )
    assignees_role: Text | None = Field(
        None, description="The deciders of an `approval_mode` step: holders of this role at the task's place."
    )
    assignees_variable: Text | None = Field(
        None,
        description="The deciders of an `approval_mode` step: a list of usernames in this data variable.",
    )
    pass_ratio: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None,
        description="Share of `all` deciders who must agree, in (0, 1]; all of them when absent.",
        json_schema_extra=refused_as("invalid_approval_mode"),
    )
    panel: Flag = Field(
        False, description="`true`: the step's votes are checked against the registered panel."
    )
    cc_roles: Names = Field((), description="Roles that get a copy (抄送) when the step opens, at its place.")
    return_targets: Names = Field(
        (), description="The earlier steps 退回 may return to from here; all earlier steps when empty."
    )
    withdrawable: Flag = Field(
        True, description="`false`: who completed the step may not withdraw it (撤回)."
    )


class EndEventConfig(BenefitConfig):
    """Properties of a ``bpmn:endEvent``: what the case's end means."""

    outcome: Literal[OUTCOMES] | None = Field(  # type: ignore[valid-type]
        None,
        description="The case's outcome: `approved`, `refused`, `withdrawn` or `terminated`. Required.",
        json_schema_extra=refused_as("invalid_outcome"),
    )
    benefit_schedule: Literal["terms"] | None = Field(
        None, description="`terms`: schedule a payment per school term (settings `amount_per_year` …)."
    )
    subject_effect: Literal[SUBJECT_EFFECTS] | None = Field(  # type: ignore[valid-type]
        None,
        description="What the end does to the enrolment the case is about: `continue`, `adjust`, "
        "`gradual_exit` or `terminate`.",
        json_schema_extra=refused_as("invalid_benefit"),
    )
    then_start: ProgramKey | None = Field(
        None,
        description="A program started next about the same enrolment (a re-check ending in termination).",
    )
    notify_level: Level | None = Field(
        None, description="An office at this level above the case's place is informed (备案), without a task."
    )
    notify_purpose: str = Field("", description="What the office is informed for (e.g. `备案`).")


class CatchEventConfig(PropertyModel):
    """Properties of an element a case waits at: an event-based gateway or a catch event."""

    notice: Flag = Field(
        False,
        description="`true`: while the case waits here its public notice (公示) runs; "
        "the period ends with the wait.",
    )
    notice_title: Text | None = Field(
        None, description="The notice's title; `<program name>公示` when absent."
    )
    notice_issuer_suffix: str = Field(
        "人民政府", description="Appended to the issuing place's name (`民政办`, or empty)."
    )
    notice_postings: Names = Field(
        ("village_board",), description="Where the notice is posted (`village_board`, `website`, …)."
    )
    form: Text | None = Field(None, description="JSON Schema file the caught message's payload must satisfy.")
    keep_early: TimeLimit | None = Field(
        None,
        description="How long a message arriving before the case waits for it is kept (a time limit).",
        json_schema_extra=refused_as("invalid_time_limit"),
    )
    senders: NamedItems | None = Field(
        None,
        description="Who may send the caught message: role keys and `portal`.",
        json_schema_extra=refused_as("invalid_role"),
    )


class MessageConfig(PropertyModel):
    """Properties of a ``bpmn:message``, and for each message name those of the events catching it on top."""

    senders: NamedItems = Field(
        DEFAULT_SENDERS,
        description="Who may send the message (POST /messages): role keys and `portal`; `portal` when absent.",
        json_schema_extra=refused_as("invalid_role"),
    )
    keep_early: TimeLimit | None = Field(
        None,
        description="How long a message arriving before its case waits for it is kept (a time limit).",
        json_schema_extra=refused_as("invalid_time_limit"),
    )
    form: Text | None = Field(None, description="JSON Schema file the message's payload must satisfy.")


class LaneConfig(PropertyModel):
    """Properties of a ``bpmn:lane``: lanes are named for people (乡镇（街道）民政), their role is a property."""

    role: Text | None = Field(
        None,
        description="The role key (`<level>_<department>`, e.g. `township_civil_affairs`) of the office "
        "working in the lane: the role of its user tasks without `candidateGroups`, and the office "
        "that issues a notice waited for in it. A lane without it is read by its name (older files).",
        json_schema_extra=refused_as("invalid_role"),
    )


class DefinitionConfig(BaseModel):
    """Everything one process file declares, by element."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    process: ProcessConfig
    steps: dict[str, StepConfig]
    end_events: dict[str, EndEventConfig]
    catch_events: dict[str, CatchEventConfig]
    messages: dict[str, MessageConfig]

    def benefits(self) -> dict[str, BenefitConfig]:
        """Element id → benefit declaration, for every step and end event."""
        return {**self.steps, **self.end_events}

    def benefit_of(self, element_id: str) -> BenefitConfig | None:
        """The step's or end event's benefit declaration."""
        return self.steps.get(element_id) or self.end_events.get(element_id)

    def message(self, name: str) -> MessageConfig:
        return self.messages.get(name) or MessageConfig()

    def is_notice(self, element_id: str) -> bool:
        found = self.catch_events.get(element_id)
        return found is not None and found.notice


# The model each element's properties are checked with; elements not listed take none.
BY_TAG: dict[str, type[PropertyModel]] = {
    "process": ProcessConfig,
    "userTask": StepConfig,
    "endEvent": EndEventConfig,
    "eventBasedGateway": CatchEventConfig,
    "intermediateCatchEvent": CatchEventConfig,
    "boundaryEvent": CatchEventConfig,
    "receiveTask": CatchEventConfig,
    "message": MessageConfig,
    "lane": LaneConfig,
}
