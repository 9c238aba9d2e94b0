"""Payment batches, their items and what they left out, recipients' bank accounts (masked)."""

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from app.api.schemas import Count, DivisionCode, Out, Timestamp, Username

Status = Literal["draft", "submitted", "approved", "exported", "settled"]
ItemStatus = Literal["pending", "paid", "failed"]


class BuildIn(BaseModel):
    county_code: DivisionCode
    program: str = Field(max_length=100)
    pay_date: dt.date


class RefuseIn(BaseModel):
    reason: str = Field(
        description="1 to 500 characters once stripped, no NUL (422 `invalid_reason` otherwise); "
        "shown to the preparing and the finance office only, never in the audit trail"
    )


class Batch(Out):
    id: int
    county_code: DivisionCode
    program: str
    pay_date: dt.date
    pay_month: str = Field(description="the month monthly enrolments are paid for, YYYY-MM")
    status: Status
    item_count: Count
    total_amount: Decimal = Field(description="yuan, two decimals, as a string")
    left_out_count: Count
    built_by: Username
    built_at: Timestamp
    submitted_by: Username | None
    submitted_at: Timestamp | None
    approved_by: Username | None
    approved_at: Timestamp | None
    refused_by: Username | None
    refused_at: Timestamp | None
    refusal_reason: str | None = Field(
        description="why finance sent it back; null for readers outside the two offices (administrators)"
    )
    account_changed_count: Count = Field(
        description="items whose account differs from the one the person's last paid batch paid to"
    )
    exported_by: Username | None = Field(description="who exported the bank file last")
    exported_at: Timestamp | None
    settled_at: Timestamp | None = Field(description="when the last item got the bank's result")


class Item(Out):
    id: int
    benefit_id: int
    application_id: str
    period: str = Field(description="YYYY-MM for a monthly enrolment, `once` for a one-time payment")
    attempt: int = Field(ge=1)
    recipient_name: str
    person_id_masked: str
    amount: Decimal
    bank_name: str
    account_masked: str = Field(description="the last four digits only")
    holder_name: str
    account_changed_since_last_payment: bool = Field(
        description="the account differs from the one the person's last paid batch paid to "
        "(false for a first payment): the approver checks it before approving"
    )
    status: ItemStatus
    reference: str = Field(description="the reference in the bank file and its result file, AF<batch>-<item>")
    bank_reference: str | None
    failure_code: str | None = Field(description="the bank's reason code of a failure")
    failure_reason: str | None = Field(description="the bank's reason in words (账户已销户, 户名不符…)")
    bank_date: dt.date | None = Field(description="the day the bank paid or refused it, from its result file")
    settled_at: Timestamp | None


class LeftOut(Out):
    benefit_id: int
    application_id: str
    period: str
    amount: Decimal
    reason: Literal["deceased", "ended", "cap_exceeded", "no_bank_account", "account_unchanged"]
    detail: str | None = Field(description="the ledger's reason the enrolment ended, or the cap exceeded")


AccountStatus = Literal["proposed", "confirmed", "refused", "superseded"]


class Account(Out):
    id: int
    person_id_masked: str
    holder_name: str = Field(description="equal to the recipient's name on their case (checked)")
    bank_name: str
    account_masked: str = Field(description="the last four digits only; the number is never returned")
    status: AccountStatus = Field(
        description="`proposed` until the county finance office confirms (then `confirmed`) or refuses "
        "it; `superseded` by a newer proposal"
    )
    in_force: bool = Field(description="confirmed and not replaced since: what batches pay to")
    set_by: Username = Field(description="who proposed it")
    set_at: Timestamp
    confirmed_by: Username | None
    confirmed_at: Timestamp | None
    refused_by: Username | None
    refused_at: Timestamp | None
    refusal_reason: str | None
    replaced_at: Timestamp | None


class AccountChange(Account):
    replaces: Account | None = Field(
        None, description="for a proposal: the account in force it would replace (null: the first one)"
    )


class AccountRefuseIn(BaseModel):
    reason: str = Field(description="1 to 500 characters once stripped (422 `invalid_reason` otherwise)")


class HistoryEntry(Out):
    benefit_id: int
    program: str
    kind: Literal["monthly", "one_time"]
    amount: Decimal
    starts_on: dt.date
    ends_on: dt.date | None
    status: str = Field(description="the ledger's status: active, scheduled, ended…")


class HistoryPayment(Out):
    benefit_id: int
    period: str = Field(description="YYYY-MM for a monthly enrolment, `once` for a one-time payment")
    attempt: int | None
    amount: Decimal
    status: Literal["scheduled", "in_batch", "paid", "failed"] = Field(
        description="`scheduled`: due and in no batch yet; `in_batch`: in a batch not settled; "
        "`paid` / `failed`: the bank's result"
    )
    pay_date: dt.date | None = Field(description="the batch's pay date, or the scheduled date")
    batch_id: int | None
    batch_status: str | None
    bank_name: str | None
    account_masked: str | None = Field(description="the last four digits only")
    failure_reason: str | None
    settled_at: Timestamp | None


class PaymentHistory(Out):
    application_id: str
    entries: list[HistoryEntry] = Field(description="the case's ledger entries")
    payments: list[HistoryPayment] = Field(description="newest period first")


class BankTemplate(Out):
    key: str
    name: str
    format: Literal["csv", "xlsx"]


class ResultsImported(Out):
    batch: Batch
    rows: Count = Field(description="data rows in the file")
    paid: Count = Field(description="items newly recorded as paid")
    failed: Count = Field(description="items newly recorded as failed")
    unchanged: Count = Field(description="rows already recorded with the same result (a file read again)")
    pending: Count = Field(description="items of the batch still without a result")


class PaymentFigure(Out):
    count: Count
    amount: Decimal = Field(description="yuan, two decimals, as a string")


class PaymentFigures(Out):
    scheduled: PaymentFigure
    paid: PaymentFigure
    failed: PaymentFigure
    pending: PaymentFigure


class ReconciliationBatch(PaymentFigures):
    batch_id: int
    program: str
    pay_date: dt.date
    status: Status


class ReconciliationPlace(PaymentFigures):
    division_code: DivisionCode
    name: str
    program: str


class Reconciliation(Out):
    county_code: DivisionCode
    month: str
    program: str | None
    totals: PaymentFigures
    batches: list[ReconciliationBatch]
    places: list[ReconciliationPlace] = Field(description="by township (the county's next level) and program")


class ReconciliationItem(Item):
    batch_id: int
    program: str
    pay_date: dt.date
    division_code: DivisionCode = Field(description="the township the payment is counted at")
