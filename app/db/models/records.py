"""What is kept and published about cases: the audit trail, the outbox and webhooks, public notices
and objections."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models.base import timestamp
from app.db.types import JSONType, PathType


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
    at: datetime = timestamp()
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
    created_at: datetime = timestamp()
    delivered_at: datetime | None = timestamp(nullable=True)


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
    previous_secret_until: datetime | None = timestamp(nullable=True)
    active: bool = True
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = timestamp(nullable=True)
    # First failure since the last success; a subscription failing long enough is disabled.
    failing_since: datetime | None = timestamp(nullable=True)
    # The owner is the principal that created it (name and kind: a user and an API key may share a
    # name in data from before 0009); only the owner and admins change it. NULL: owner unknown, admins only.
    created_by: str = Field(max_length=100)
    created_by_kind: str | None = Field(default=None, max_length=20)
    # The newest outbox row committed when the subscription was made: it receives the rows after it.
    # An order the database gives, not the clocks of two replicas (one a few ms behind the other
    # would make an event written just after the subscription look older than it).
    after_outbox_id: int = Field(default=0, sa_type=sa.BigInteger)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


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
    next_attempt_at: datetime = timestamp()
    # A worker holds a delivery while it sends; a crashed worker's lease runs out and another retries.
    lease_until: datetime | None = timestamp(nullable=True)
    expires_at: datetime = timestamp()
    created_at: datetime = timestamp()
    last_attempt_at: datetime | None = timestamp(nullable=True)
    response_code: int | None = None
    response_ms: float | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = timestamp(nullable=True)


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
    starts_at: datetime = timestamp()
    ends_at: datetime = timestamp()
    created_at: datetime = timestamp()


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
    ends_at: datetime = timestamp()
    created_at: datetime = timestamp()


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
    created_at: datetime = timestamp()
    answered_at: datetime | None = timestamp(nullable=True)
