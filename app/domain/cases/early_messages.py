"""Messages kept because they came before their case waited for them (catch event property ``keep_early``).

Kept until the time limit the BPMN declares (``3 days``, ``5 working days``, an ISO duration);
delivered, oldest first and one per wait, in the transaction of the change that makes the case
wait for them (``cases.change`` takes them with ``take_kept``). Expired ones are never delivered.
A message that names a case not created yet (``program`` with ``external_ref`` or ``id_number``)
is kept when the program's newest version declares ``keep_early`` for it, and adopted by the
case created later with that reference or person, inside the sender's places (``adopt``).
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import early_messages
from app.domain.audit import Recorder
from app.domain.people.principal import Principal
from app.domain.timekeeping import calendar, deadlines


async def keep(
    conn: AsyncConnection,
    principal: Principal,
    app: dict[str, Any],
    name: str,
    payload: dict[str, Any],
    limit: str,
) -> dict[str, Any]:
    now = clock.now()
    expires_at = deadlines.compute(now, limit, await calendar.load(conn), what=f"early message {name}").due_at
    assert expires_at is not None  # keep_early is a time limit
    await conn.execute(
        sa.insert(early_messages).values(
            application_id=app["id"],
            message_name=name,
            payload=payload,
            actor=principal.name,
            received_at=now,
            expires_at=expires_at,
            delivered_at=None,
        )
    )
    rec = Recorder(principal.name)
    rec.add(
        "message.kept",
        app["id"],
        {"name": name, "payload": payload, "expires_at": expires_at.isoformat()},
        None,
        app["division_path"],
    )
    await rec.flush(conn)
    return {
        "application_id": app["id"],
        "status": app["status"],
        "kept": True,
        "kept_until": expires_at,
        "next_tasks": [],
    }


async def keep_for_case_to_come(
    conn: AsyncConnection,
    principal: Principal,
    program: str,
    external_ref: str | None,
    id_number: str | None,
    name: str,
    payload: dict[str, Any],
    limit: str,
) -> dict[str, Any]:
    now = clock.now()
    expires_at = deadlines.compute(now, limit, await calendar.load(conn), what=f"early message {name}").due_at
    assert expires_at is not None  # keep_early is a time limit
    paths = (
        None if principal.is_admin else sorted({g.division_path for g in principal.grants if g.division_path})
    )
    await conn.execute(
        sa.insert(early_messages).values(
            application_id=None,
            program=program,
            external_ref=external_ref,
            id_number=id_number,
            sender_paths=paths,
            message_name=name,
            payload=payload,
            actor=principal.name,
            received_at=now,
            expires_at=expires_at,
            delivered_at=None,
        )
    )
    return {"application_id": None, "status": None, "kept": True, "kept_until": expires_at, "next_tasks": []}


async def adopt(conn: AsyncConnection, app: dict[str, Any]) -> None:
    """A new case takes the unexpired messages kept for its reference or its person, if their sender covers it."""
    ref = early_messages.c.external_ref == app["external_ref"] if app.get("external_ref") else sa.false()
    rows = (
        await conn.execute(
            sa.select(early_messages.c.id, early_messages.c.sender_paths).where(
                early_messages.c.application_id.is_(None),
                early_messages.c.program == app["program"],
                early_messages.c.delivered_at.is_(None),
                early_messages.c.expires_at > clock.now(),
                sa.or_(ref, early_messages.c.id_number == app["applicant_id_number"]),
            )
        )
    ).all()
    ids = [
        r.id
        for r in rows
        if r.sender_paths is None or any(app["division_path"].startswith(p) for p in r.sender_paths)
    ]
    if ids:
        await conn.execute(
            sa.update(early_messages).where(early_messages.c.id.in_(ids)).values(application_id=app["id"])
        )


async def take_kept(conn: AsyncConnection, app: dict[str, Any], names: list[str]) -> RowMapping | None:
    """The oldest unexpired message kept for the case under any of ``names``, marked delivered (the
    unit of work, ``cases.change``, delivers it in the same transaction)."""
    row = (
        (
            await conn.execute(
                sa.select(early_messages)
                .where(
                    early_messages.c.application_id == app["id"],
                    early_messages.c.message_name.in_(names),
                    early_messages.c.delivered_at.is_(None),
                    early_messages.c.expires_at > clock.now(),
                )
                .order_by(early_messages.c.id)
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    if row is not None:
        await conn.execute(
            sa.update(early_messages).where(early_messages.c.id == row["id"]).values(delivered_at=clock.now())
        )
    return row
