"""The tables. Queries live in the domain services; this module only declares shape.

Hot paths (inbox, completion) use SQLAlchemy Core on ``Model.__table__``; the SQLModel
classes are the single declaration of each table and its indexes.
"""

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import JSONType, PathType, UTCDateTime

metadata = SQLModel.metadata
metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _ts(nullable: bool = False, **kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, **kw)


class Division(SQLModel, table=True):
    __tablename__ = "divisions"
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    level: str = Field(max_length=32)
    parent_code: str | None = Field(default=None, foreign_key="divisions.code", max_length=32)
    # "/34/3406/340621/" – every ancestor's code; the prefix test answers "at or below".
    path: str = Field(sa_type=PathType, unique=True)
    # Where citizens complain about the work of this place and the places under it (监督电话):
    # printed on the notices below it (the nearest place that has one).
    complaint_phone: str | None = Field(default=None, max_length=40)


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)
    active: bool = True
    created_at: datetime = _ts()
    # Lock-out: consecutive failed logins, and until when (real time) the account refuses logins.
    failed_logins: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    locked_until: datetime | None = _ts(nullable=True)
    # Disabling sets active=False and this; bearer tokens issued (iat) before tokens_valid_after are
    # refused. Both are read from the database on every request, so every replica sees them at once.
    disabled_at: datetime | None = _ts(nullable=True)
    tokens_valid_after: datetime | None = _ts(nullable=True)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    # sha256 of the key: keys are 256-bit random, so a slow hash buys nothing.
    key_hash: str = Field(max_length=64, unique=True)
    active: bool = True
    created_by: str = Field(max_length=100)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)  # with active=False: the key stops working at once


class Grant(SQLModel, table=True):
    __tablename__ = "grants"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    api_key_id: int | None = Field(default=None, foreign_key="api_keys.id", index=True)
    role: str = Field(max_length=64)
    # NULL only for the global admin role.
    division_code: str | None = Field(default=None, foreign_key="divisions.code", max_length=32)


class ProcessDefinition(SQLModel, table=True):
    __tablename__ = "process_definitions"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100)
    version: int
    name: str = Field(max_length=200)
    xml: str = Field(sa_type=sa.Text())
    sha256: str = Field(max_length=64)
    # Form schemas referenced by the BPMN, frozen with the version that uses them.
    forms: dict = Field(default_factory=dict, sa_type=JSONType)
    deployed_at: datetime = _ts()
    deployed_by: str = Field(max_length=100)
    version_tag: str | None = Field(default=None, max_length=100)
    comment: str | None = Field(default=None, max_length=2000)
    # DMN decision tables the process's business rule tasks use, by decision id → XML, frozen like forms.
    decisions: dict = Field(default_factory=dict, sa_type=JSONType)


class Rollout(SQLModel, table=True):
    """Which version new cases of a program take at a place (a pilot); no row for a place: the latest."""

    __tablename__ = "rollouts"
    __table_args__ = (sa.UniqueConstraint("key", "division_code"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, index=True)
    # NULL: every place without a more specific rule.
    division_code: str | None = Field(default=None, foreign_key="divisions.code", max_length=32)
    division_path: str | None = Field(default=None, sa_type=PathType)
    version: int
    set_by: str = Field(max_length=100)
    set_at: datetime = _ts()


class Application(SQLModel, table=True):
    __tablename__ = "applications"
    __table_args__ = (
        sa.Index("ix_applications_program_external_ref", "program", "external_ref", unique=True),
        # At most one active case per person and program; enforced by the database under races.
        sa.Index(
            "ix_applications_one_active",
            "program",
            "applicant_id_number",
            unique=True,
            postgresql_where=sa.text("status = 'in_progress'"),
            sqlite_where=sa.text("status = 'in_progress'"),
        ),
        sa.Index("ix_applications_division_path_created", "division_path", "created_at"),
        # 我发起的: the cases a person or a portal submitted.
        sa.Index("ix_applications_created_by", "created_by"),
    )
    id: str = Field(primary_key=True, max_length=36)
    # A number people can say on the phone, e.g. DB-340621-2026-000123 (app/domain/case_numbers.py).
    number: str | None = Field(default=None, max_length=40, unique=True)
    program: str = Field(max_length=100)
    definition_id: int = Field(foreign_key="process_definitions.id")
    definition_version: int
    division_code: str = Field(foreign_key="divisions.code", max_length=32)
    division_path: str = Field(sa_type=PathType)
    status: str = Field(max_length=20)
    # NULL for a case about a place rather than a person (a school's monthly report).
    applicant: dict | None = Field(default=None, sa_type=JSONType, nullable=True)
    applicant_id_number: str | None = Field(default=None, max_length=18, nullable=True)
    data: dict = Field(default_factory=dict, sa_type=JSONType)
    external_ref: str | None = Field(default=None, max_length=200)
    engine_state: dict = Field(sa_type=JSONType)
    version: int = 1
    created_by: str = Field(max_length=100)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)
    # A limit over the whole case (e.g. 30 working days for 低保), from the process's case_time_limit.
    case_due_at: datetime | None = _ts(nullable=True)
    case_due_basis: str | None = Field(default=None, max_length=16)
    # The program settings in force when the case started (limits, ratios…), kept for the record.
    settings: dict = Field(default_factory=dict, sa_type=JSONType)
    # 户 (household) the applicant belongs to; family caps count over it. Defaults to the ID number.
    family_id: str | None = Field(default=None, max_length=64)
    # For a re-check or termination: the enrolment case it is about.
    subject_id: str | None = Field(default=None, foreign_key="applications.id", max_length=36, index=True)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        # The inbox pages (domain/tasks/worklist.inbox) in their own order: deadline, arrival, id. A page
        # reads its first rows off one of these instead of sorting every row in scope.
        # 待认领: open, unclaimed steps of a role at one place (a grant's place holds its role's steps).
        sa.Index(
            "ix_tasks_candidates",
            "role",
            "division_path",
            "due_at",
            "created_at",
            "id",
            postgresql_where=sa.text("state = 'open' AND assignee IS NULL"),
            sqlite_where=sa.text("state = 'open' AND assignee IS NULL"),
        ),
        # Everything at one place in a state.
        sa.Index("ix_tasks_place_due", "state", "division_path", "due_at", "created_at", "id"),
        # Everything in a state, walked by deadline and filtered by place: a county's or a city's view
        # (most rows match), supervisors' late work, reminders. The place rides along (PostgreSQL) so
        # the filter needs no table row.
        sa.Index(
            "ix_tasks_state_due", "state", "due_at", "created_at", "id", postgresql_include=["division_path"]
        ),
        sa.Index("ix_tasks_assignee_state", "assignee", "state"),
        # 我的待办 (委派: asked for an opinion) and 已办: a person's own rows.
        sa.Index(
            "ix_tasks_delegated_to",
            "delegated_to",
            postgresql_where=sa.text("delegated_to IS NOT NULL"),
            sqlite_where=sa.text("delegated_to IS NOT NULL"),
        ),
        sa.Index(
            "ix_tasks_completed_by",
            "completed_by",
            "state",
            "completed_at",
            postgresql_where=sa.text("completed_by IS NOT NULL"),
            sqlite_where=sa.text("completed_by IS NOT NULL"),
        ),
        sa.Index("ix_tasks_state_remind_at", "state", "remind_at"),
    )
    id: str = Field(primary_key=True, max_length=36)
    application_id: str = Field(foreign_key="applications.id", index=True, max_length=36)
    # The case's number, copied so the inbox reads the tasks table alone.
    case_number: str | None = Field(default=None, max_length=40)
    program: str = Field(max_length=100)
    engine_task_id: str = Field(max_length=36)
    name: str = Field(max_length=100)
    title: str = Field(max_length=200)
    role: str = Field(max_length=64)
    division_code: str = Field(foreign_key="divisions.code", max_length=32)
    division_path: str = Field(sa_type=PathType)
    state: str = Field(max_length=20)  # open | completed | cancelled
    assignee: str | None = Field(default=None, max_length=100)
    form: str | None = Field(default=None, max_length=200)
    created_at: datetime = _ts()
    due_at: datetime | None = _ts(nullable=True)
    completed_at: datetime | None = _ts(nullable=True)
    completed_by: str | None = Field(default=None, max_length=100)
    data: dict | None = Field(default=None, sa_type=JSONType)
    # Why the step is here again (returned, withdrawn), opinions asked for, the holder's decision
    # waiting for signers after it: shown with the task.
    note: dict | None = Field(default=None, sa_type=JSONType)
    # 委派: the person asked for an opinion; the holder cannot decide until they resolve.
    delegated_to: str | None = Field(default=None, max_length=100)
    # The BPMN time_limit the deadline came from, kept so a corrected calendar can recompute it.
    time_limit: str | None = Field(default=None, max_length=100)
    due_basis: str | None = Field(default=None, max_length=16)  # calendar | provisional | natural
    remind_at: datetime | None = _ts(nullable=True)
    reminded_at: datetime | None = _ts(nullable=True)
    overdue_at: datetime | None = _ts(nullable=True)
    claimed_at: datetime | None = _ts(nullable=True)


class Timer(SQLModel, table=True):
    __tablename__ = "timers"
    __table_args__ = (sa.Index("ix_timers_due", "fired_at", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", index=True, max_length=36)
    engine_task_id: str = Field(max_length=36)
    name: str = Field(max_length=100)
    due_at: datetime = _ts()
    # Set when fired or when the case moved on without it (cancelled).
    fired_at: datetime | None = _ts(nullable=True)
    cancelled: bool = False
    scheduled_at: datetime | None = _ts(nullable=True)
    # Set for timers written as working_days(N): recomputed when their years' calendar changes.
    working_days: int | None = None
    due_basis: str | None = Field(default=None, max_length=16)
    # A timer whose step fails is tried again later (backing off), then set aside as failed.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    retry_at: datetime | None = _ts(nullable=True)
    failed_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)


class MessageWait(SQLModel, table=True):
    """A message a case is waiting for; routing is done here, not inside the engine."""

    __tablename__ = "message_waits"
    __table_args__ = (sa.UniqueConstraint("application_id", "message_name"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", max_length=36)
    message_name: str = Field(max_length=100)
    created_at: datetime = _ts()


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    # `aidflow prune` deletes by age.
    __table_args__ = (sa.Index("ix_idempotency_keys_created_at", "created_at"),)
    principal: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=200)
    request_sha256: str = Field(max_length=64)
    status_code: int
    response: dict = Field(sa_type=JSONType)
    created_at: datetime = _ts()


class Event(SQLModel, table=True):
    """The append-only audit trail: who did what, when, with which data.

    On PostgreSQL the table is partitioned by month of ``at`` (app/db/partitions.py) and its primary
    key there is ``(id, at)``; ids come from one sequence, so they are unique all the same. bigint
    there (a country's events outgrow int4 within years); SQLite's rowid is 64-bit already."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_application_id_id", "application_id", "id"),
        sa.Index("ix_events_subject_id", "subject", "id"),
    )
    id: int | None = Field(
        default=None, primary_key=True, sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    )
    application_id: str | None = Field(default=None, max_length=36)
    # What an authority change (no case) is about: ``user:zhang.wei``, ``setting:linshi/340621/township_limit``.
    subject: str | None = Field(default=None, max_length=200)
    at: datetime = _ts()
    actor: str = Field(max_length=100)
    type: str = Field(max_length=64)
    task_id: str | None = Field(default=None, max_length=36)
    task_name: str | None = Field(default=None, max_length=100)
    data: dict = Field(default_factory=dict, sa_type=JSONType)


class OutboxMessage(SQLModel, table=True):
    """Events for portals, written in the same transaction as the change (transactional outbox).

    ``delivered_at`` marks the row as handed over: fanned out into one ``webhook_deliveries`` row
    per matching subscription (the deliveries then carry their own state).
    """

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_pending", "delivered_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    event_type: str = Field(max_length=64)
    application_id: str | None = Field(default=None, max_length=36)
    division_path: str | None = Field(default=None, sa_type=PathType)
    payload: dict = Field(sa_type=JSONType)
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts(nullable=True)


class WebhookSubscription(SQLModel, table=True):
    """A portal's subscription to events of the cases at or under one division."""

    __tablename__ = "webhook_subscriptions"
    id: str = Field(primary_key=True, max_length=36)
    url: str = Field(max_length=2000)
    event_types: list = Field(default_factory=list, sa_type=JSONType)
    division_code: str = Field(foreign_key="divisions.code", max_length=32)
    division_path: str = Field(sa_type=PathType, index=True)
    # Standard Webhooks secrets (whsec_…): kept in clear because every request is signed with them.
    secret: str = Field(max_length=100)
    # After a rotation the old secret also signs until this time, so receivers can switch over.
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_until: datetime | None = _ts(nullable=True)
    active: bool = True
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = _ts(nullable=True)
    # First failure since the last success; a subscription failing long enough is disabled.
    failing_since: datetime | None = _ts(nullable=True)
    # The owner is the principal that created it (name and kind: a user and an API key may share a
    # name in data from before 0009); only the owner and admins change it. NULL: owner unknown, admins only.
    created_by: str = Field(max_length=100)
    created_by_kind: str | None = Field(default=None, max_length=20)
    # The newest outbox row committed when the subscription was made: it receives the rows after it.
    # An order the database gives, not the clocks of two replicas (one a few ms behind the other
    # would make an event written just after the subscription look older than it).
    after_outbox_id: int = Field(default=0, sa_type=sa.BigInteger)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription; its id is the stable ``webhook-id`` receivers de-duplicate on."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "outbox_id"),
        # What is due now: the worker's claim query.
        sa.Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        # "Is an earlier event of this case still on its way to this subscription?" (ordering per case)
        sa.Index("ix_webhook_deliveries_order", "subscription_id", "application_id", "outbox_id"),
        # The foreign key's other side: deleting an outbox row (prune) checks for deliveries of it,
        # which without this index reads every delivery once per outbox row.
        sa.Index("ix_webhook_deliveries_outbox_id", "outbox_id"),
    )
    id: str = Field(primary_key=True, max_length=40)
    subscription_id: str = Field(foreign_key="webhook_subscriptions.id", max_length=36)
    outbox_id: int = Field(foreign_key="outbox.id")
    application_id: str | None = Field(default=None, max_length=36)
    event_type: str = Field(max_length=64)
    status: str = Field(max_length=16)  # pending | sending | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    # A worker holds a delivery while it sends; a crashed worker's lease runs out and another retries.
    lease_until: datetime | None = _ts(nullable=True)
    expires_at: datetime = _ts()
    created_at: datetime = _ts()
    last_attempt_at: datetime | None = _ts(nullable=True)
    response_code: int | None = None
    response_ms: float | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = _ts(nullable=True)


class EarlyMessage(SQLModel, table=True):
    """A message that arrived before its case waited for it, kept when the BPMN allows (``keep_early``).

    Without ``application_id`` it came before its case existed: it names the case to come by
    ``program`` and ``external_ref`` or ``id_number``, and is adopted when that case is created.
    """

    __tablename__ = "early_messages"
    __table_args__ = (
        sa.Index("ix_early_messages_app_name", "application_id", "message_name"),
        sa.Index("ix_early_messages_program_id_number", "program", "id_number"),
        sa.Index("ix_early_messages_program_external_ref", "program", "external_ref"),
    )
    id: int | None = Field(default=None, primary_key=True)
    application_id: str | None = Field(default=None, foreign_key="applications.id", max_length=36)
    program: str | None = Field(default=None, max_length=100)
    external_ref: str | None = Field(default=None, max_length=200)
    id_number: str | None = Field(default=None, max_length=18)
    # Division paths the sender's grants covered (None: everywhere); a case to come is adopted only inside them.
    sender_paths: list | None = Field(default=None, sa_type=JSONType)
    message_name: str = Field(max_length=100)
    payload: dict = Field(sa_type=JSONType)
    actor: str = Field(max_length=100)
    received_at: datetime = _ts()
    expires_at: datetime = _ts()
    delivered_at: datetime | None = _ts(nullable=True)


class Notice(SQLModel, table=True):
    """A public notice (公示) as posted on a board: one per place, program, step, day and round."""

    __tablename__ = "notices"
    __table_args__ = (
        sa.UniqueConstraint("program", "step", "division_code", "posted_on", "round"),
        sa.Index("ix_notices_division_path_ends_at", "division_path", "ends_at"),
    )
    id: str = Field(primary_key=True, max_length=36)
    program: str = Field(max_length=100)
    step: str = Field(max_length=100)
    title: str = Field(max_length=200)
    issuer: str = Field(max_length=200)
    division_code: str = Field(foreign_key="divisions.code", max_length=32)
    division_path: str = Field(sa_type=PathType)
    posted_on: str = Field(max_length=10)  # YYYY-MM-DD, Asia/Shanghai
    # 1 for the first notice of a case at this step, 2 for a re-notice after an objection, …
    round: int = 1
    postings: list = Field(default_factory=list, sa_type=JSONType)
    starts_at: datetime = _ts()
    ends_at: datetime = _ts()
    created_at: datetime = _ts()


class NoticeEntry(SQLModel, table=True):
    """One case on a notice, holding only what may be published (masked when created)."""

    __tablename__ = "notice_entries"
    __table_args__ = (sa.UniqueConstraint("notice_id", "number"),)
    id: str = Field(primary_key=True, max_length=36)
    notice_id: str = Field(foreign_key="notices.id", index=True, max_length=36)
    application_id: str = Field(foreign_key="applications.id", index=True, max_length=36)
    number: int
    public: dict = Field(sa_type=JSONType)
    status: str = Field(max_length=20)  # listed | objected | passed | resolved | returned | withdrawn
    ends_at: datetime = _ts()
    created_at: datetime = _ts()


class Objection(SQLModel, table=True):
    """An objection (异议) to a notice entry; the objector follows it with number and check code."""

    __tablename__ = "objections"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    check_hash: str = Field(max_length=64)
    notice_id: str = Field(foreign_key="notices.id", max_length=36)
    entry_id: str = Field(foreign_key="notice_entries.id", max_length=36)
    application_id: str = Field(foreign_key="applications.id", index=True, max_length=36)
    reason: str = Field(sa_type=sa.Text())
    name: str | None = Field(default=None, max_length=100)
    contact: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=20)  # received | answered
    outcome: str | None = Field(default=None, max_length=20)  # upheld | dismissed
    reply: str | None = Field(default=None, sa_type=sa.Text())
    answered_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = _ts()
    answered_at: datetime | None = _ts(nullable=True)


class CalendarYear(SQLModel, table=True):
    """The official working-day calendar of one year (holidays off, 调休 weekend days worked)."""

    __tablename__ = "calendar_years"
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source: str = Field(max_length=500)
    holidays: list = Field(default_factory=list, sa_type=JSONType)
    working_days: list = Field(default_factory=list, sa_type=JSONType)
    updated_at: datetime = _ts()
    updated_by: str = Field(max_length=100)


class InstallationSecret(SQLModel, table=True):
    """Secrets an installation generated for itself (``signing``: tokens and CSRF when
    AIDFLOW_SECRET_KEY is unset), shared by every process of it; never a constant in code."""

    __tablename__ = "installation_secrets"
    name: str = Field(primary_key=True, max_length=50)
    value: str = Field(max_length=200)
    created_at: datetime = _ts()


class ServiceClock(SQLModel, table=True):
    """The test-mode clock offset shared by every process (one row, id 1)."""

    __tablename__ = "service_clock"
    id: int = Field(primary_key=True)
    offset_seconds: float = 0.0


class ProgramSetting(SQLModel, table=True):
    """A program's settings for a subtree (e.g. county 340621's delegated limit); the nearest wins."""

    __tablename__ = "program_settings"
    __table_args__ = (sa.UniqueConstraint("program", "division_code"),)
    id: int | None = Field(default=None, primary_key=True)
    program: str = Field(max_length=100, index=True)
    # NULL: the whole country (overrides the BPMN's own defaults).
    division_code: str | None = Field(default=None, foreign_key="divisions.code", max_length=32)
    division_path: str | None = Field(default=None, sa_type=PathType)
    values: dict = Field(default_factory=dict, sa_type=JSONType)
    set_by: str = Field(max_length=100)
    set_at: datetime = _ts()


class Benefit(SQLModel, table=True):
    """The benefits ledger: every approved amount, by person, family, program, period and case."""

    __tablename__ = "benefits"
    __table_args__ = (
        sa.Index("ix_benefits_person", "person_id_number", "program", "status"),
        sa.Index("ix_benefits_family_year", "family_id", "year"),
        sa.Index("ix_benefits_next_recheck", "status", "next_recheck_on"),
        sa.Index("ix_benefits_ends_on", "status", "ends_on"),
    )
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", max_length=36, index=True)
    program: str = Field(max_length=100)
    person_id_number: str = Field(max_length=18)
    family_id: str = Field(max_length=64)
    division_path: str = Field(sa_type=PathType)
    # monthly: an enrolment paid each month from starts_on; one_time: a single payment.
    kind: str = Field(max_length=16)
    amount: float = Field(sa_type=sa.Numeric(12, 2))
    year: int
    starts_on: date = Field(sa_type=sa.Date())
    # Last day paid (inclusive); NULL while a monthly enrolment runs.
    ends_on: date | None = Field(default=None, sa_type=sa.Date(), nullable=True)
    status: str = Field(max_length=16)  # active | ended
    category: str | None = Field(default=None, max_length=32)  # e.g. 低保 class A/B/C, a grade of need
    next_recheck_on: date | None = Field(default=None, sa_type=sa.Date(), nullable=True)
    # Approved above a cap by a case conference ("one case, one decision").
    cap_exempt: bool = False
    note: dict = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)


class SamplePool(SQLModel, table=True):
    """Random re-check sampling per program, county and month, reproducible from its seed."""

    __tablename__ = "sample_pools"
    __table_args__ = (sa.UniqueConstraint("program", "county_code", "month"),)
    id: int | None = Field(default=None, primary_key=True)
    program: str = Field(max_length=100)
    county_code: str = Field(max_length=32)
    month: str = Field(max_length=7)  # 2026-11
    seed: str = Field(max_length=32)
    drawn: int = 0
    sampled: int = 0


class TaskSigner(SQLModel, table=True):
    """People who decide on a step besides its holder: 加签 before or after, or 会签/或签/依次 deciders."""

    __tablename__ = "task_signers"
    __table_args__ = (sa.Index("ix_task_signers_user_state", "username", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(foreign_key="tasks.id", max_length=36, index=True)
    username: str = Field(max_length=100)
    kind: str = Field(max_length=16)  # before | after | decider
    seq: int = 0
    state: str = Field(max_length=16)  # pending | decided | removed
    decision: str | None = Field(default=None, max_length=16)
    opinion: str | None = Field(default=None, max_length=2000)
    added_by: str = Field(max_length=100)
    added_at: datetime = _ts()
    decided_at: datetime | None = _ts(nullable=True)


class CaseCopy(SQLModel, table=True):
    """抄送: people or roles who may read a case and find it under 抄送我的, without acting."""

    __tablename__ = "case_copies"
    __table_args__ = (
        sa.Index("ix_case_copies_username", "username"),
        sa.Index("ix_case_copies_role", "role"),
    )
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", max_length=36, index=True)
    task_id: str | None = Field(default=None, foreign_key="tasks.id", max_length=36)
    username: str | None = Field(default=None, max_length=100)
    role: str | None = Field(default=None, max_length=64)
    # Where a copied role applies (the task's place), so a role elsewhere does not see it.
    division_path: str | None = Field(default=None, sa_type=PathType)
    note: str | None = Field(default=None, max_length=2000)
    created_by: str = Field(max_length=100)
    created_at: datetime = _ts()


class Panel(SQLModel, table=True):
    """A review panel registered by an institution for a school year (幼儿园资助评审小组)."""

    __tablename__ = "panels"
    __table_args__ = (sa.UniqueConstraint("division_code", "school_year"),)
    id: int | None = Field(default=None, primary_key=True)
    division_code: str = Field(foreign_key="divisions.code", max_length=32)
    school_year: int  # the year the autumn term starts in
    members: list = Field(default_factory=list, sa_type=JSONType)
    set_by: str = Field(max_length=100)
    set_at: datetime = _ts()


class WebSession(SQLModel, table=True):
    """A browser session of the web UI; the cookie holds a random token, the row only its hash."""

    __tablename__ = "web_sessions"
    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie's token
    username: str = Field(max_length=100, index=True)
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    expires_at: datetime = _ts()


class SavedView(SQLModel, table=True):
    """A reviewer's named inbox filter (tab, program, place, overdue, sort), kept on the server."""

    __tablename__ = "saved_views"
    __table_args__ = (sa.UniqueConstraint("username", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100)
    name: str = Field(max_length=50)
    query: dict = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = _ts()


class CaseNumberCounter(SQLModel, table=True):
    """The last number given per program, area (county) and year; taken with the case's own insert,
    so a case that is not created gives its number back (no gaps)."""

    __tablename__ = "case_number_counters"
    program: str = Field(primary_key=True, max_length=100)
    area_code: str = Field(primary_key=True, max_length=32)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = Field(default=0)


class RateLimitHit(SQLModel, table=True):
    """Accepted hits per client and millisecond (database clock); every replica counts in the same rows."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (sa.Index("ix_rate_limit_hits_at_ms", "at_ms"),)
    scope: str = Field(primary_key=True, max_length=32)
    client: str = Field(primary_key=True, max_length=64)
    at_ms: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False})
    hits: int = Field(default=1)


class FollowUp(SQLModel, table=True):
    """A case a finished case asked for (``then_start``: a termination after a re-check), started by
    the worker in a transaction of its own rather than inside the change that asked for it."""

    __tablename__ = "case_followups"
    __table_args__ = (sa.Index("ix_case_followups_pending", "started_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", max_length=36)
    program: str = Field(max_length=100)
    requested_at: datetime = _ts()
    started_at: datetime | None = _ts(nullable=True)
    started_application_id: str | None = Field(default=None, max_length=36)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)


divisions = Division.__table__
users = User.__table__
api_keys = ApiKey.__table__
grants = Grant.__table__
process_definitions = ProcessDefinition.__table__
applications = Application.__table__
tasks = Task.__table__
timers = Timer.__table__
message_waits = MessageWait.__table__
idempotency_keys = IdempotencyKey.__table__
events = Event.__table__
outbox = OutboxMessage.__table__
service_clock = ServiceClock.__table__
installation_secrets = InstallationSecret.__table__
calendar_years = CalendarYear.__table__
rollouts = Rollout.__table__
notices = Notice.__table__
notice_entries = NoticeEntry.__table__
objections = Objection.__table__
webhook_subscriptions = WebhookSubscription.__table__
webhook_deliveries = WebhookDelivery.__table__
early_messages = EarlyMessage.__table__
program_settings = ProgramSetting.__table__
benefits = Benefit.__table__
sample_pools = SamplePool.__table__
panels = Panel.__table__
task_signers = TaskSigner.__table__
case_copies = CaseCopy.__table__
web_sessions = WebSession.__table__
saved_views = SavedView.__table__
rate_limit_hits = RateLimitHit.__table__
case_number_counters = CaseNumberCounter.__table__
case_followups = FollowUp.__table__
