"""Deadline watch: reminders one working day ahead, overdue marks, stale claims released.

Each happens exactly once per task: the row is picked with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL and changed with a guarded update, so any number of workers may run.
"""

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import tasks
from app.domain.audit import Recorder
from app.domain.timekeeping import calendar


def _lock(conn: AsyncConnection, query: sa.Select[Any]) -> sa.Select[Any]:
    return query.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else query


async def _due_rows(
    conn: AsyncConnection, where: list[sa.ColumnElement[bool]], order: sa.ColumnElement[Any], limit: int
) -> list[dict[str, Any]]:
    query = sa.select(tasks).where(tasks.c.state == "open", *where).order_by(order).limit(limit)
    return [dict(r) for r in (await conn.execute(_lock(conn, query))).mappings()]


async def _mark_once(
    conn: AsyncConnection,
    event: str,
    stamp: sa.Column[Any],
    when: sa.Column[Any],
    where: list[sa.ColumnElement[bool]],
    limit: int,
) -> int:
    """Stamp each due open task once (``stamp`` IS NULL → now) and record ``event`` for it."""
    now = clock.now()
    rows = await _due_rows(conn, [stamp.is_(None), when <= now, *where], when, limit)
    rec = Recorder("system")
    for task in rows:
        await conn.execute(
            sa.update(tasks).where(tasks.c.id == task["id"], stamp.is_(None)).values({stamp: now})
        )
        rec.add(
            event,
            task["application_id"],
            {
                "due_at": task["due_at"].isoformat(),
                "assignee": task["assignee"],
                "role": task["role"],
                "division_code": task["division_code"],
            },
            task,
            task["division_path"],
        )
    await rec.flush(conn)
    return len(rows)


async def send_reminders(conn: AsyncConnection, limit: int = 100) -> int:
    """One working day before the deadline (not when it has passed already)."""
    return await _mark_once(
        conn, "task.reminder", tasks.c.reminded_at, tasks.c.remind_at, [tasks.c.due_at > clock.now()], limit
    )


async def mark_overdue(conn: AsyncConnection, limit: int = 100) -> int:
    return await _mark_once(conn, "task.overdue", tasks.c.overdue_at, tasks.c.due_at, [], limit)


async def release_stale_claims(conn: AsyncConnection, stale_working_days: int, limit: int = 100) -> int:
    """Give back to the group every claim left unused for the configured number of working days."""
    if stale_working_days <= 0:
        return 0
    now = clock.now()
    days = await calendar.load(conn)
    today = calendar.today()
    # N working days after the claim day take N calendar days: a cheap pre-filter, then the exact count.
    rows = await _due_rows(
        conn,
        [tasks.c.assignee.is_not(None), tasks.c.claimed_at < now - timedelta(days=stale_working_days - 1)],
        tasks.c.claimed_at,
        limit,
    )
    rec = Recorder("system")
    released = 0
    for task in rows:
        claimed_day = task["claimed_at"].astimezone(calendar.SHANGHAI).date()
        if days.count(claimed_day, today).value < stale_working_days:
            continue
        await conn.execute(
            sa.update(tasks)
            .where(tasks.c.id == task["id"], tasks.c.assignee == task["assignee"])
            .values(assignee=None, claimed_at=None)
        )
        rec.add(
            "task.claim_released",
            task["application_id"],
            {
                "previous_assignee": task["assignee"],
                "claimed_at": task["claimed_at"].isoformat(),
                "reason": f"unused for {stale_working_days} working days",
            },
            task,
            task["division_path"],
        )
        released += 1
    await rec.flush(conn)
    return released
