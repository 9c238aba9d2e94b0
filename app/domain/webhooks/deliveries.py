"""Webhook deliveries in the database: fan-out from the outbox, claims, results, replays.

The HTTP side is ``app/delivery.py``; every function here runs inside a transaction its
caller owns. A delivery's life: ``pending`` → (claimed) ``sending`` → ``delivered``, or back
to ``pending`` with a later ``next_attempt_at``, or ``dead`` once its maximum age is reached.
A claim is a lease: a worker that dies mid-send leaves a ``sending`` row whose lease runs out,
and another worker sends it again (at-least-once; receivers de-duplicate on ``webhook-id``).
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.config import Settings
from app.db.models import applications, outbox
from app.db.models import webhook_deliveries as d
from app.db.models import webhook_subscriptions as subs
from app.domain.audit import Recorder
from app.shapes import AnyRow

# Fan-out runs in one worker at a time (PostgreSQL advisory lock; SQLite has one writer anyway),
# so the deliveries of one case are created in the order of its events.
FAN_OUT_LOCK = 7_008_001
# A lease outlives the send's own deadline by at least this much: the claim must commit and the
# result be recorded while no other worker may take the delivery (a margin of 0 let two workers
# send it at once whenever a send used up its whole timeout).
MIN_LEASE_MARGIN_SECONDS = 5.0
STATUSES = ("pending", "sending", "delivered", "dead")


@dataclass(frozen=True)
class Policy:
    timeout_seconds: float = 10.0
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 6 * 3600.0
    max_age_seconds: float = 3 * 86400.0
    disable_after_seconds: float = 5 * 86400.0
    batch_size: int = 50
    test_mode: bool = False
    lease_margin_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.lease_margin_seconds < MIN_LEASE_MARGIN_SECONDS:
            raise ValueError(f"the webhook lease margin must be at least {MIN_LEASE_MARGIN_SECONDS:g} s")

    @classmethod
    def from_settings(cls, settings: Settings) -> "Policy":
        return cls(
            settings.webhook_timeout_seconds,
            settings.webhook_retry_base_seconds,
            settings.webhook_retry_max_seconds,
            settings.webhook_max_age_seconds,
            settings.webhook_disable_after_seconds,
            settings.webhook_batch_size,
            settings.env == "test",
            settings.webhook_lease_margin_seconds,
        )

    def backoff(self, attempts: int) -> timedelta:
        """Exponential with "equal jitter": half the step fixed, half random, so receivers
        recovering from an outage are not hit by every sender at the same instant."""
        step = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=step / 2 + random.uniform(0, step / 2))


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status_code: int | None
    ms: float
    error: str | None = None


def _legacy(row: AnyRow) -> dict[str, Any]:
    """Outbox rows written before webhooks existed carry a shorter payload."""
    p = row.payload
    return {
        "id": f"outbox-{row.id}",
        "type": row.event_type,
        "time": p.get("at"),
        "application_id": row.application_id,
        "task": {"id": p["task_id"], "name": p.get("task")} if p.get("task_id") else None,
        "data": {},
    }


async def fan_out(conn: AsyncConnection, policy: Policy) -> int:
    """Turn up to a batch of outbox rows into deliveries for every matching active subscription."""
    if (
        conn.dialect.name == "postgresql"
        and not (await conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(FAN_OUT_LOCK)))).scalar()
    ):
        return 0
    rows = (
        await conn.execute(
            sa.select(
                outbox.c.id,
                outbox.c.event_type,
                outbox.c.application_id,
                outbox.c.payload,
                outbox.c.created_at,
                applications.c.program,
                applications.c.division_code,
                # A case's place; an event without a case may carry its own (a payment batch's county).
                sa.func.coalesce(applications.c.division_path, outbox.c.division_path).label("division_path"),
                applications.c.number,
            )
            .outerjoin(applications, applications.c.id == outbox.c.application_id)
            .where(outbox.c.delivered_at.is_(None))
            .order_by(outbox.c.id)
            .limit(policy.batch_size)
        )
    ).all()
    if not rows:
        return 0
    active = (
        await conn.execute(
            sa.select(subs.c.id, subs.c.event_types, subs.c.division_path, subs.c.after_outbox_id).where(
                subs.c.active
            )
        )
    ).all()
    now = clock.now()
    new, handed = [], []
    for row in rows:
        payload = row.payload if "id" in row.payload else _legacy(row)
        payload = {
            **payload,
            "program": row.program if row.application_id else payload.get("program"),
            "division_code": row.division_code if row.application_id else payload.get("division_code"),
            "case_number": row.number,
        }
        handed.append({"oid": row.id, "enriched": payload})
        for sub in active:
            # Events of a case go to subscriptions at or above its place; events without a case to all;
            # nothing that happened before the subscription existed.
            if (
                row.event_type in sub.event_types
                and row.id > sub.after_outbox_id
                and (row.division_path is None or row.division_path.startswith(sub.division_path))
            ):
                new.append(new_delivery(sub.id, row.id, row.application_id, row.event_type, now, policy))
    if new:
        await conn.execute(sa.insert(d), new)
    await conn.execute(
        sa.update(outbox)
        .where(outbox.c.id == sa.bindparam("oid"))
        .values(payload=sa.bindparam("enriched", type_=outbox.c.payload.type), delivered_at=now),
        handed,
    )
    return len(rows)


def new_delivery(
    subscription_id: str,
    outbox_id: int,
    application_id: str | None,
    event_type: str,
    now: datetime,
    policy: Policy,
) -> dict[str, Any]:
    return {
        "id": "msg_" + uuid.uuid4().hex,
        "subscription_id": subscription_id,
        "outbox_id": outbox_id,
        "application_id": application_id,
        "event_type": event_type,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "lease_until": None,
        "expires_at": now + timedelta(seconds=policy.max_age_seconds),
        "created_at": now,
        "last_attempt_at": None,
        "response_code": None,
        "response_ms": None,
        "last_error": None,
        "delivered_at": None,
    }


async def claim(conn: AsyncConnection, policy: Policy, limit: int) -> list[dict[str, Any]]:
    """Take up to ``limit`` due deliveries, at most the oldest unsent one per subscription and case."""
    now = clock.now()
    earlier = d.alias("earlier")
    blocked = sa.exists().where(
        earlier.c.subscription_id == d.c.subscription_id,
        earlier.c.application_id == d.c.application_id,
        earlier.c.outbox_id < d.c.outbox_id,
        earlier.c.status.in_(("pending", "sending")),
    )
    # A lease measures how long a send may really take, so it runs on the wall clock (moving the
    # test clock during a send must not let another worker send the same delivery again), and on
    # the database's, which every worker shares: a replica whose own clock runs ahead would take
    # over deliveries still being sent, one running behind would hand out leases that last longer.
    wall = await database_now(conn)
    due = sa.or_(
        sa.and_(d.c.status == "pending", d.c.next_attempt_at <= now),
        sa.and_(d.c.status == "sending", d.c.lease_until <= wall),
    )
    ids = (
        (
            await conn.execute(
                sa.select(d.c.id)
                .join(subs, subs.c.id == d.c.subscription_id)
                .where(subs.c.active, due, ~blocked)
                .order_by(d.c.next_attempt_at, d.c.outbox_id)
                .limit(limit)
                # Several workers: each skips the rows another is claiming (PostgreSQL; SQLite has one writer).
                .with_for_update(of=d, skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    lease = wall + timedelta(seconds=policy.timeout_seconds + policy.lease_margin_seconds)
    await conn.execute(
        sa.update(d)
        .where(d.c.id.in_(ids))
        .values(status="sending", lease_until=lease, attempts=d.c.attempts + 1, last_attempt_at=now)
    )
    rows = await conn.execute(
        sa.select(
            d.c.id,
            d.c.attempts,
            d.c.expires_at,
            d.c.subscription_id,
            subs.c.url,
            subs.c.secret,
            subs.c.previous_secret,
            subs.c.previous_secret_until,
            outbox.c.payload,
        )
        .join(subs, subs.c.id == d.c.subscription_id)
        .join(outbox, outbox.c.id == d.c.outbox_id)
        .where(d.c.id.in_(ids))
        .order_by(d.c.outbox_id)
    )
    claimed = []
    for r in rows.mappings():
        item = dict(r)
        item["secrets"] = [r["secret"]] + (
            [r["previous_secret"]]
            if r["previous_secret"] and r["previous_secret_until"] and r["previous_secret_until"] > now
            else []
        )
        claimed.append(item)
    return claimed


async def database_now(conn: AsyncConnection) -> datetime:
    """The database server's wall clock (SQLite runs in this process: its clock is ours)."""
    if conn.dialect.name == "postgresql":
        now: datetime = (await conn.execute(sa.select(sa.func.clock_timestamp()))).scalar_one()
        return now
    return clock.real_now()


async def release(conn: AsyncConnection, batch: list[dict[str, Any]]) -> int:
    """A worker stopping mid-send gives its claims back: due at once for another worker instead of
    after the lease. The cut-off send may have arrived; receivers de-duplicate on webhook-id."""
    released = 0
    for claimed in batch:
        result = await conn.execute(
            sa.update(d)
            .where(d.c.id == claimed["id"], d.c.status == "sending", d.c.attempts == claimed["attempts"])
            .values(status="pending", lease_until=None, next_attempt_at=clock.now())
        )
        released += result.rowcount
    return released


async def record(
    conn: AsyncConnection, claimed: dict[str, Any], attempt: Attempt, policy: Policy, *, gone: bool = False
) -> str:
    """Store one attempt's result; returns delivered | retry | dead | stale (the lease was lost meanwhile)."""
    now = clock.now()
    mine = sa.and_(d.c.id == claimed["id"], d.c.status == "sending", d.c.attempts == claimed["attempts"])
    result = {
        "lease_until": None,
        "response_code": attempt.status_code,
        "response_ms": round(attempt.ms, 1),
        "last_error": (attempt.error or "")[:500] or None,
    }
    if attempt.ok:
        updated = await conn.execute(
            sa.update(d).where(mine).values(status="delivered", delivered_at=now, **result)
        )
        if updated.rowcount:
            await conn.execute(
                sa.update(subs).where(subs.c.id == claimed["subscription_id"]).values(failing_since=None)
            )
        return "delivered" if updated.rowcount else "stale"
    dead = now >= claimed["expires_at"]
    values = (
        {"status": "dead"}
        if dead
        else {
            "status": "pending",
            "next_attempt_at": min(now + policy.backoff(claimed["attempts"]), claimed["expires_at"]),
        }
    )
    updated = await conn.execute(sa.update(d).where(mine).values(**values, **result))
    if not updated.rowcount:
        return "stale"
    sub = (
        await conn.execute(
            sa.select(subs.c.failing_since, subs.c.active).where(subs.c.id == claimed["subscription_id"])
        )
    ).one()
    failing_since = sub.failing_since or now
    if sub.failing_since is None:
        await conn.execute(
            sa.update(subs).where(subs.c.id == claimed["subscription_id"]).values(failing_since=now)
        )
    reason = None
    if gone:
        reason = "the receiver answered 410 Gone"
    elif now - failing_since >= timedelta(seconds=policy.disable_after_seconds):
        reason = (
            f"every delivery failed since {failing_since.isoformat()} (last error: {result['last_error']})"
        )
    if reason and sub.active:
        await disable(conn, claimed["subscription_id"], reason[:500])
    return "dead" if dead else "retry"


async def disable(conn: AsyncConnection, subscription_id: str, reason: str) -> None:
    now = clock.now()
    await conn.execute(
        sa.update(subs)
        .where(subs.c.id == subscription_id, subs.c.active)
        .values(active=False, disabled_reason=reason, disabled_at=now, updated_at=now)
    )
    rec = Recorder("system")
    rec.add("webhook.subscription_disabled", None, {"subscription_id": subscription_id, "reason": reason})
    await rec.flush(conn)


async def queue_depth(conn: AsyncConnection) -> int:
    """Events not yet handed over plus deliveries not yet done (for the metrics gauge)."""
    waiting = (
        await conn.execute(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.delivered_at.is_(None))
        )
    ).scalar_one()
    unsent = (
        await conn.execute(
            sa.select(sa.func.count()).select_from(d).where(d.c.status.in_(("pending", "sending")))
        )
    ).scalar_one()
    return waiting + unsent
