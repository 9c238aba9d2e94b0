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
    reason: str = Field(min_length=1, max_length=500)


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
    refusal_reason: str | None
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


class Account(Out):
    id: int
    holder_name: str
    bank_name: str
    account_masked: str = Field(description="the last four digits only; the number is never returned")
    set_by: Username
    set_at: Timestamp


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
