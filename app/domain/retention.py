"""Retention: deleting what has served its purpose, in small transactions, while the service runs.

Only working rows go: outbox rows already handed over (and no longer referenced by any delivery),
webhook deliveries that are delivered or dead, ended web sessions, expired drafts of refused web
forms, old idempotency keys, old
rate-limit hits and early messages that were used or expired. The record is never touched:
``events`` (audit trail and case history), applications and tasks (decisions), benefits (the
ledger), notices, notice entries and objections stay forever.

Safe with several workers and API replicas at work: every batch is one ``DELETE … WHERE key IN
(SELECT key … LIMIT n) AND <condition>``, so the condition is checked again on the row being
deleted (PostgreSQL re-evaluates it on the newest row version after a concurrent update): a dead
delivery an administrator sends again in the meantime is pending by then and stays; a delivery
being sent (``sending``) or still due (``pending``) is never a candidate, and neither is the
outbox row it points to (the foreign key would refuse it anyway).

Times: rows written on the service clock (outbox, deliveries, idempotency keys, early messages)
are aged on the service clock; web sessions, form drafts and rate-limit hits live on the wall clock, like
the code that writes them.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app import clock
from app.config import Settings
from app.db import partitions
from app.db.models import (
    early_messages,
    form_drafts,
    idempotency_keys,
    outbox,
    rate_limit_hits,
    web_sessions,
)
from app.db.models import webhook_deliveries as d

# The tables prune may delete from, in the order it works (deliveries before the outbox rows they use).
TABLES = (
    "webhook_deliveries",
    "outbox",
    "web_sessions",
    "form_drafts",
    "idempotency_keys",
    "rate_limit_hits",
    "early_messages",
)


@dataclass(frozen=True)
class Retention:
    outbox_days: int = 30
    webhook_deliveries_days: int = 30
    web_sessions_grace_seconds: int = 0
    idempotency_days: int = 30
    rate_limit_seconds: int = 86400
    early_messages_days: int = 90
    batch_size: int = 1000
    # A web session also ends this long after its last request (AIDFLOW_UI_IDLE_SECONDS).
    ui_idle_seconds: int = 2 * 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> "Retention":
        return cls(
            outbox_days=settings.retention_outbox_days,
            webhook_deliveries_days=settings.retention_webhook_deliveries_days,
            web_sessions_grace_seconds=settings.retention_web_sessions_grace_seconds,
            idempotency_days=settings.retention_idempotency_days,
            rate_limit_seconds=settings.retention_rate_limit_seconds,
            early_messages_days=settings.retention_early_messages_days,
            batch_size=settings.prune_batch_size,
            ui_idle_seconds=settings.ui_idle_seconds,
        )


def _conditions(
    policy: Retention, now: datetime, real_now: datetime
) -> dict[str, tuple[sa.Table, list[sa.Column[Any]], sa.ColumnElement[bool]]]:
    """Per table: (table, its primary-key columns, what makes a row deletable)."""
    delivery_done = sa.func.coalesce(d.c.delivered_at, d.c.last_attempt_at, d.c.created_at)
    session_cut = real_now - timedelta(seconds=policy.web_sessions_grace_seconds)
    early_cut = now - timedelta(days=policy.early_messages_days)
    return {
        "webhook_deliveries": (
            d,
            [d.c.id],
            sa.and_(
                d.c.status.in_(("delivered", "dead")),
                delivery_done < now - timedelta(days=policy.webhook_deliveries_days),
            ),
        ),
        "outbox": (
            outbox,
            [outbox.c.id],
            sa.and_(
                outbox.c.delivered_at.is_not(None),
                outbox.c.delivered_at < now - timedelta(days=policy.outbox_days),
                ~sa.exists().where(d.c.outbox_id == outbox.c.id),
            ),
        ),
        "web_sessions": (
            web_sessions,
            [web_sessions.c.id],
            sa.or_(
                web_sessions.c.expires_at <= session_cut,
                web_sessions.c.last_seen_at <= session_cut - timedelta(seconds=policy.ui_idle_seconds),
            ),
        ),
        # A refused web form's draft is shown for 30 minutes; each new draft also clears expired ones.
        "form_drafts": (form_drafts, [form_drafts.c.id], form_drafts.c.expires_at <= real_now),
        "idempotency_keys": (
            idempotency_keys,
            [idempotency_keys.c.principal, idempotency_keys.c.key],
            idempotency_keys.c.created_at < now - timedelta(days=policy.idempotency_days),
        ),
        "rate_limit_hits": (
            rate_limit_hits,
            [rate_limit_hits.c.scope, rate_limit_hits.c.client, rate_limit_hits.c.at_ms],
            rate_limit_hits.c.at_ms < int(real_now.timestamp() * 1000) - policy.rate_limit_seconds * 1000,
        ),
        # Matching only ever looks at undelivered, unexpired messages; a used one is in its case's events.
        "early_messages": (
            early_messages,
            [early_messages.c.id],
            sa.or_(
                early_messages.c.delivered_at < early_cut,
                sa.and_(early_messages.c.delivered_at.is_(None), early_messages.c.expires_at < early_cut),
            ),
        ),
    }


def _key(columns: list[sa.Column[Any]]) -> sa.ColumnElement[Any]:
    return columns[0] if len(columns) == 1 else sa.tuple_(*columns)


async def prune(
    db: AsyncEngine,
    policy: Retention,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    real_now: datetime | None = None,
) -> dict[str, int]:
    """Delete (or, with ``dry_run``, count) what retention allows; answers rows per table.

    Each batch of at most ``policy.batch_size`` rows is its own transaction, so locks are short and
    an interrupted run keeps what it did."""
    now = now or clock.now()
    real_now = real_now or clock.real_now()
    counts: dict[str, int] = {}
    for name, (table, key, condition) in _conditions(policy, now, real_now).items():
        if dry_run:
            async with db.connect() as conn:
                counts[name] = (
                    await conn.execute(sa.select(sa.func.count()).select_from(table).where(condition))
                ).scalar_one()
            continue
        total = 0
        while True:
            # correlate(None): the batch reads the table itself, it is not a correlated subquery.
            batch = sa.select(*key).where(condition).limit(policy.batch_size).correlate(None)
            async with db.begin() as conn:
                deleted = (
                    await conn.execute(sa.delete(table).where(_key(key).in_(batch), condition))
                ).rowcount
            total += deleted
            if deleted < policy.batch_size:
                break
        counts[name] = total
    return counts


async def prepare_partitions(
    db: AsyncEngine, now: datetime | None = None, ahead: int = 3
) -> list[str] | None:
    """Make this month's and the next ``ahead`` months' ``events`` partitions (PostgreSQL); answers
    the partitions created, or None on SQLite, which has none."""
    async with db.begin() as conn:
        if conn.dialect.name != "postgresql":
            return None
        return await partitions.ensure_months(conn, now or clock.now(), ahead)
