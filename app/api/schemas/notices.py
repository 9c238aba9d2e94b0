"""Public notices (公示) and objections: what anyone may read and send without logging in."""

from datetime import date
from typing import Literal

from pydantic import Field

from app.api.schemas import DivisionCode, Number, Out, Timestamp


class Posting(Out):
    code: str = Field(description="where the notice is posted, e.g. village_board, website")
    label: str


class Notice(Out):
    id: str
    program: str
    step: str
    title: str
    issuer: str
    division_code: DivisionCode
    posted_on: date
    round: int = Field(ge=1)
    starts_at: Timestamp
    ends_at: Timestamp
    state: Literal["open", "closed"]
    postings: list[Posting]


class NoticeEntry(Out):
    """An entry as published: only the public fields that have their declared type; the names of
    those withheld are in ``data_withheld``."""

    id: str
    entry_number: int | None = Field(None, ge=1, le=10_000_000)
    name: str | None = Field(None, max_length=100, description="masked: 张*; absent for children")
    household_size: int | None = Field(None, ge=1, le=50)
    proposed_decision: Literal["approve", "refuse"] | None = None
    amount: Number | None = Field(None, ge=0, le=10_000_000)
    village: str | None = Field(None, max_length=200)
    data_withheld: list[str] | None = None


class NoticeWithEntries(Notice):
    entries: list[NoticeEntry]
    how_to_object: str = Field(
        description="the deadline, the web address and the complaint telephone, in words"
    )


class ObjectionReceived(Out):
    number: str = Field(description="the objection's number (异议编号)")
    check_code: str = Field(description="with the number, lets the objector follow it (查询码)")
    status: Literal["received"]
    detail: str


class ObjectionFollowUp(Out):
    number: str
    status: Literal["received", "answered"]
    outcome: Literal["upheld", "dismissed"] | None
    reply: str | None
    received_at: Timestamp
    answered_at: Timestamp | None
