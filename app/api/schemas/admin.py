"""Accounts, API keys, places, the audit of authority changes, failed timers and the test clock."""

from typing import Annotated, Literal

from pydantic import Field

from app.api.schemas import Count, DivisionCode, Json, Out, Timestamp, Username


class Grant(Out):
    role: str = Field(max_length=64)
    division_code: DivisionCode | None


class User(Out):
    id: int
    username: Username
    display_name: str = Field(max_length=200)
    grants: list[Grant]


class UserChanged(Out):
    username: Username
    display_name: str = Field(max_length=200)
    grants: list[Grant]


class UserActive(Out):
    username: Username
    active: bool


class TokensRevoked(Out):
    username: Username
    tokens_valid_after: Timestamp


class NewApiKey(Out):
    id: int
    name: str = Field(max_length=100)
    key: str = Field(description="shown once, now; only its hash is kept")
    grants: list[Grant]


class ApiKey(Out):
    name: str = Field(max_length=100)
    active: bool
    created_by: str | None
    created_at: Timestamp
    revoked_at: Timestamp | None


class ApiKeyRevoked(Out):
    name: str = Field(max_length=100)
    active: bool
    revoked_at: Timestamp | None


class AuthorityChange(Out):
    id: int
    at: Timestamp
    actor: str
    type: str = Field(description="e.g. user.grants_changed, setting.changed")
    subject: str
    division_code: DivisionCode | None
    old: Json | None
    new: Json | None


class Division(Out):
    code: DivisionCode
    name: str = Field(max_length=200)
    level: str = Field(max_length=32)
    parent_code: DivisionCode | None
    path: str = Field(description="every ancestor's code: /34/3406/340621/")
    complaint_phone: str | None = Field(max_length=40)


class Place(Out):
    """A place as portals see it (GET /divisions): the code to file a case under."""

    code: DivisionCode
    name: str = Field(max_length=200)
    level: str = Field(max_length=32, description="province, city, county, township, village, school…")
    parent_code: DivisionCode | None


class Upserted(Out):
    upserted: Count


class FailedTimer(Out):
    id: int
    application_id: str
    case_number: str | None
    program: str
    name: str
    due_at: Timestamp
    attempts: Annotated[int, Field(ge=0)]
    failed_at: Timestamp | None
    last_error: str | None


class TimerRetried(Out):
    id: int
    application_id: str
    name: str
    status: Literal["due"] = Field(description="it fires in the worker's next round")


class FailedFollowUp(Out):
    id: int
    application_id: str = Field(
        description="the case that asked for it (e.g. a re-check that decided to terminate)"
    )
    case_number: str | None
    program: str = Field(description="the program it starts")
    requested_at: Timestamp
    attempts: Annotated[int, Field(ge=0)]
    last_error: str | None


class FollowUpRetried(Out):
    id: int
    application_id: str
    program: str
    status: Literal["due"] = Field(description="the worker tries it in its next round")


class Clock(Out):
    now: Timestamp


class WorkRound(Out):
    """What one round of the worker did."""

    fired: Count
    reminders: Count
    overdue: Count
    claims_released: Count
    followups_started: Count
    rechecks_started: Count
    monthly_cases_started: Count
    enrolments_ended: Count
    payment_batches_built: Count
    webhook_attempts: Count
    report_deltas_folded: Count = Field(description="report deltas folded into the rollups (docs/reports.md)")
