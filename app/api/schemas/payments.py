"""Payment batches, their items and what they left out, recipients' bank accounts (masked)."""

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from app.api.schemas import Count, DivisionCode, Out, Timestamp, Username

Status = Literal["draft", "submitted", "approved"]


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
    status: Literal["pending", "paid", "failed"]
    bank_reference: str | None
    failure_reason: str | None
    settled_at: Timestamp | None


class LeftOut(Out):
    benefit_id: int
    application_id: str
    period: str
    amount: Decimal
    reason: Literal["deceased", "ended", "cap_exceeded", "no_bank_account"]
    detail: str | None = Field(description="the ledger's reason the enrolment ended, or the cap exceeded")


class Account(Out):
    id: int
    holder_name: str
    bank_name: str
    account_masked: str = Field(description="the last four digits only; the number is never returned")
    set_by: Username
    set_at: Timestamp
