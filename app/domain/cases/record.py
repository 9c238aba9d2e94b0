"""审批记录: the steps of a case as a table — who (name, not login) handled each, with which result and
opinion, when it arrived and was done, and how many working days it took."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import tasks
from app.domain.cases import lookup, privacy
from app.domain.people.directory import Directory
from app.domain.people.principal import Principal
from app.domain.timekeeping import calendar


def _opinion(data: dict[str, Any]) -> str | None:
    for key in ("opinion", "reason", "second_opinion"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


async def of_application(
    conn: AsyncConnection,
    principal: Principal,
    application_id: str,
    directory: Directory | None = None,
    personal: bool | None = None,
) -> list[dict[str, Any]]:
    """The same who-may-see as the case, by its id or its number; a caller who may not read its
    personal data (``cases.privacy``; ``personal``: decided here unless the caller did) gets the steps,
    handlers and results without the opinions, which speak of the applicant's circumstances."""
    row = await lookup.load_row(conn, principal, application_id, reading=personal is None)
    application_id, personal = row["id"], row[privacy.READABLE] if personal is None else personal
    rows = (
        await conn.execute(
            sa.select(
                tasks.c.id,
                tasks.c.name,
                tasks.c.title,
                tasks.c.role,
                tasks.c.division_code,
                tasks.c.state,
                tasks.c.assignee,
                tasks.c.completed_by,
                tasks.c.created_at,
                tasks.c.completed_at,
                tasks.c.data,
            )
            .where(tasks.c.application_id == application_id, tasks.c.state.in_(("open", "completed")))
            .order_by(tasks.c.created_at, tasks.c.id)
        )
    ).all()
    directory = directory or Directory()
    await directory.load(conn, (r.completed_by or r.assignee for r in rows))
    days = await calendar.load(conn)
    record = []
    for r in rows:
        handler = r.completed_by or r.assignee
        data = r.data if isinstance(r.data, dict) else {}
        end = r.completed_at or clock.now()
        taken = days.count(
            r.created_at.astimezone(calendar.SHANGHAI).date(), end.astimezone(calendar.SHANGHAI).date()
        )
        record.append(
            {
                "task_id": r.id,
                "step": r.name,
                "title": r.title,
                "role": r.role,
                "division_code": r.division_code,
                "state": r.state,
                "handler": handler,
                "handler_name": directory.person(handler).name if handler else None,
                "handler_display": directory.view(handler),
                "result": data.get("decision") if isinstance(data.get("decision"), str) else None,
                "opinion": _opinion(data) if personal else None,
                "arrived_at": r.created_at,
                "completed_at": r.completed_at,
                "working_days": taken.value,
                "working_days_provisional": taken.provisional,
            }
        )
    return record
