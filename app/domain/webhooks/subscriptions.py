"""Webhook subscriptions: a URL receiving chosen events of the cases at or under one division.

A subscription belongs to the principal that created it (its name and kind): only the owner and
admins change, rotate, pause, delete, ping or redeliver it; offices covering its division may read it
(never its secret). Every change is in the audit trail, without secrets."""

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import outbox, webhook_deliveries
from app.db.models import webhook_subscriptions as subs
from app.domain import audit
from app.domain.errors import Forbidden, Invalid, NotFound
from app.domain.people import divisions
from app.domain.people.principal import Principal
from app.domain.webhooks import signatures
from app.domain.webhooks import urls as webhook_urls
from app.domain.webhooks.events import SUBSCRIBABLE
from app.shapes import RowLike


class SubscriptionIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000)
    event_types: list[str] = Field(min_length=1, max_length=len(SUBSCRIBABLE))
    division_code: str = Field(min_length=1, max_length=32)
    secret: str | None = Field(default=None, max_length=100, description="whsec_…; generated when absent")
    active: bool = True


class SubscriptionPatch(BaseModel):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=len(SUBSCRIBABLE))
    division_code: str | None = Field(default=None, min_length=1, max_length=32)
    active: bool | None = None
    secret: str | None = Field(default=None, max_length=100, description="rotate to this secret")
    rotate_secret: bool = Field(default=False, description="rotate to a generated secret (shown once)")


class Target(BaseModel):
    """What the URL check needs to know about the caller's deployment."""

    test_mode: bool
    own_hosts: set[str]


def view(row: RowLike) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "event_types": row["event_types"],
        "division_code": row["division_code"],
        "active": row["active"],
        "disabled_reason": row["disabled_reason"],
        "disabled_at": row["disabled_at"],
        "failing_since": row["failing_since"],
        "previous_secret_valid_until": row["previous_secret_until"],
        "created_by": row["created_by"],
        "created_by_kind": row["created_by_kind"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _event_types(requested: list[str]) -> list[str]:
    unknown = sorted(set(requested) - set(SUBSCRIBABLE))
    if unknown:
        raise Invalid("unknown_event_type", f"unknown event types {unknown}", known=list(SUBSCRIBABLE))
    return [t for t in SUBSCRIBABLE if t in requested]


async def _division(conn: AsyncConnection, principal: Principal, code: str) -> dict[str, Any]:
    division = await divisions.get(conn, code)
    if division is None:
        raise Invalid("unknown_division", f"division {code!r} does not exist")
    if not principal.can_see(division["path"]):
        raise Forbidden("division_not_covered", f"your grants do not cover division {code}")
    return division


async def load(conn: AsyncConnection, principal: Principal, subscription_id: str) -> dict[str, Any]:
    row = (await conn.execute(sa.select(subs).where(subs.c.id == subscription_id))).mappings().first()
    # Another place's subscription answers like one that does not exist.
    if row is None or not principal.can_see(row["division_path"]):
        raise NotFound("subscription_not_found", f"no webhook subscription {subscription_id!r}")
    return dict(row)


def owns(principal: Principal, row: dict[str, Any]) -> bool:
    return principal.is_admin or (
        row["created_by"] == principal.name and row["created_by_kind"] == principal.kind
    )


async def load_own(conn: AsyncConnection, principal: Principal, subscription_id: str) -> dict[str, Any]:
    """The subscription, for a change: 404 outside the caller's places, 403 when not the owner's."""
    row = await load(conn, principal, subscription_id)
    if not owns(principal, row):
        raise Forbidden(
            "not_subscription_owner",
            "only the principal that created this subscription (or an admin) may change it",
            created_by=row["created_by"],
        )
    return row


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": row["url"],
        "event_types": row["event_types"],
        "division_code": row["division_code"],
        "active": row["active"],
    }


async def create(
    conn: AsyncConnection, principal: Principal, body: SubscriptionIn, target: Target
) -> dict[str, Any]:
    url = webhook_urls.check(body.url, test_mode=target.test_mode, own_hosts=target.own_hosts)
    types = _event_types(body.event_types)
    division = await _division(conn, principal, body.division_code)
    secret = signatures.check_secret(body.secret) if body.secret is not None else signatures.generate_secret()
    now = clock.now()
    newest = (await conn.execute(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0)))).scalar_one()
    row = {
        "id": str(uuid.uuid4()),
        "url": url,
        "event_types": types,
        "division_code": division["code"],
        "division_path": division["path"],
        "secret": secret,
        "previous_secret": None,
        "previous_secret_until": None,
        "active": body.active,
        "disabled_reason": None,
        "disabled_at": None,
        "failing_since": None,
        "created_by": principal.name,
        "created_by_kind": principal.kind,
        "after_outbox_id": newest,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(sa.insert(subs).values(**row))
    await audit.record_change(
        conn,
        principal.name,
        "webhook_subscription.created",
        f"webhook_subscription:{row['id']}",
        None,
        {**_audited(row), "owner_kind": principal.kind},
        division["code"],
    )
    # The secret is shown this once; later reads never return it.
    return {**view(row), "secret": secret}


async def list_(conn: AsyncConnection, principal: Principal) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(subs).where(principal.visible(subs.c.division_path)).order_by(subs.c.created_at, subs.c.id)
    )
    return [view(r) for r in rows.mappings()]


async def update(
    conn: AsyncConnection,
    principal: Principal,
    subscription_id: str,
    body: SubscriptionPatch,
    target: Target,
    overlap_seconds: float,
) -> dict[str, Any]:
    row = await load_own(conn, principal, subscription_id)
    old = _audited(row)
    now = clock.now()
    values: dict[str, Any] = {"updated_at": now}
    if body.url is not None:
        values["url"] = webhook_urls.check(body.url, test_mode=target.test_mode, own_hosts=target.own_hosts)
    if body.event_types is not None:
        values["event_types"] = _event_types(body.event_types)
    if body.division_code is not None:
        division = await _division(conn, principal, body.division_code)
        values.update(division_code=division["code"], division_path=division["path"])
    if body.active is not None:
        values["active"] = body.active
        if body.active:  # re-enabled: forget why it was disabled and start counting failures afresh
            values.update(disabled_reason=None, disabled_at=None, failing_since=None)
    new_secret = None
    if body.secret is not None and body.rotate_secret:
        raise Invalid("secret_conflict", "give either secret or rotate_secret, not both")
    if body.secret is not None or body.rotate_secret:
        new_secret = signatures.check_secret(body.secret) if body.secret else signatures.generate_secret()
        values.update(
            secret=new_secret,
            previous_secret=row["secret"],
            previous_secret_until=now + timedelta(seconds=overlap_seconds),
        )
    await conn.execute(sa.update(subs).where(subs.c.id == subscription_id).values(**values))
    row.update(values)
    subject = f"webhook_subscription:{subscription_id}"
    if new_secret:  # recorded as rotated, never shown
        await audit.record_change(
            conn,
            principal.name,
            "webhook_subscription.secret_rotated",
            subject,
            None,
            {"previous_secret_valid_until": row["previous_secret_until"].isoformat()},
            row["division_code"],
        )
    if old["active"] != row["active"]:
        verb = "enabled" if row["active"] else "disabled"
        await audit.record_change(
            conn,
            principal.name,
            f"webhook_subscription.{verb}",
            subject,
            {"active": old["active"]},
            {"active": row["active"]},
            row["division_code"],
        )
    new = _audited(row)
    changed = sorted(k for k in new if k != "active" and new[k] != old[k])
    if changed:
        await audit.record_change(
            conn,
            principal.name,
            "webhook_subscription.updated",
            subject,
            {k: old[k] for k in changed},
            {k: new[k] for k in changed},
            row["division_code"],
        )
    return {**view(row), "secret": new_secret} if new_secret else view(row)


async def delete(conn: AsyncConnection, principal: Principal, subscription_id: str) -> None:
    row = await load_own(conn, principal, subscription_id)
    await audit.record_change(
        conn,
        principal.name,
        "webhook_subscription.deleted",
        f"webhook_subscription:{subscription_id}",
        _audited(row),
        None,
        row["division_code"],
    )
    await conn.execute(
        sa.delete(webhook_deliveries).where(webhook_deliveries.c.subscription_id == subscription_id)
    )
    await conn.execute(sa.delete(subs).where(subs.c.id == subscription_id))
