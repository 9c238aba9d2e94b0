"""What a subscriber sees of its deliveries and may do with them: the list, a redelivery, a ping."""

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import outbox
from app.db.models import webhook_deliveries as d
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.people.principal import Principal
from app.domain.webhooks import deliveries, subscriptions
from app.shapes import RowLike


def view(row: RowLike) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event_id": (row["payload"] or {}).get("id"),
        "event_type": row["event_type"],
        "application_id": row["application_id"],
        "status": row["status"],
        "attempts": row["attempts"],
        "created_at": row["created_at"],
        "next_attempt_at": row["next_attempt_at"] if row["status"] == "pending" else None,
        "last_attempt_at": row["last_attempt_at"],
        "response_code": row["response_code"],
        "response_ms": row["response_ms"],
        "last_error": row["last_error"],
        "delivered_at": row["delivered_at"],
        "expires_at": row["expires_at"],
    }


_VIEW = sa.select(d, outbox.c.payload).join(outbox, outbox.c.id == d.c.outbox_id)


async def list_(
    conn: AsyncConnection,
    principal: Principal,
    subscription_id: str,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    await subscriptions.load(conn, principal, subscription_id)
    query = _VIEW.where(d.c.subscription_id == subscription_id)
    if status is not None:
        if status not in deliveries.STATUSES:
            raise Invalid("invalid_status", f"status must be one of {deliveries.STATUSES}")
        query = query.where(d.c.status == status)
    rows = (
        (await conn.execute(query.order_by(d.c.outbox_id.desc()).limit(limit + 1).offset(offset)))
        .mappings()
        .all()
    )
    return {
        "items": [view(r) for r in rows[:limit]],
        "limit": limit,
        "offset": offset,
        "has_more": len(rows) > limit,
    }


async def redeliver(
    conn: AsyncConnection,
    principal: Principal,
    subscription_id: str,
    delivery_id: str,
    policy: deliveries.Policy,
) -> dict[str, Any]:
    """Send a delivery again with the same id (receivers that saw it already can tell)."""
    await subscriptions.load_own(conn, principal, subscription_id)
    now = clock.now()
    updated = await conn.execute(
        sa.update(d)
        .where(d.c.id == delivery_id, d.c.subscription_id == subscription_id, d.c.status != "sending")
        .values(
            status="pending",
            next_attempt_at=now,
            lease_until=None,
            expires_at=now + timedelta(seconds=policy.max_age_seconds),
        )
    )
    row = (
        (await conn.execute(_VIEW.where(d.c.id == delivery_id, d.c.subscription_id == subscription_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("delivery_not_found", f"no delivery {delivery_id!r} for this subscription")
    if not updated.rowcount:
        raise Conflict("delivery_in_flight", "this delivery is being sent right now")
    return view(row)


async def ping(
    conn: AsyncConnection, principal: Principal, subscription_id: str, policy: deliveries.Policy
) -> dict[str, Any]:
    """Queue a ``webhook.ping`` for this subscription only."""
    sub = await subscriptions.load_own(conn, principal, subscription_id)
    if not sub["active"]:
        raise Conflict("subscription_inactive", "activate the subscription first (PATCH active=true)")
    now = clock.now()
    event = {
        "id": str(uuid.uuid4()),
        "type": "webhook.ping",
        "time": now.isoformat(),
        "application_id": None,
        "program": None,
        "division_code": sub["division_code"],
        "task": None,
        "data": {"subscription_id": subscription_id},
    }
    # Already handed over (delivered_at set): the fan-out must not offer it to other subscriptions.
    outbox_id = (
        await conn.execute(
            sa.insert(outbox)
            .values(
                event_type="webhook.ping",
                application_id=None,
                division_path=sub["division_path"],
                payload=event,
                created_at=now,
                delivered_at=now,
            )
            .returning(outbox.c.id)
        )
    ).scalar_one()
    row = deliveries.new_delivery(subscription_id, outbox_id, None, "webhook.ping", now, policy)
    await conn.execute(sa.insert(d).values(**row))
    return {**view({**row, "payload": event})}
