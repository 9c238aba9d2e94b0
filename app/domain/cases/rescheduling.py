"""Recomputing stored deadlines after a year's calendar is loaded or corrected.

Provisional deadlines (counted on weekends only because the year was unpublished) become
official ones, and deadlines whose span touches a corrected year move with it.
"""

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import applications, tasks, timers
from app.domain.audit import Recorder
from app.domain.cases import timers as timer_firing
from app.domain.cases.change import CaseChange
from app.domain.programs import definitions
from app.domain.timekeeping import calendar, deadlines

WORKING_BASES = (deadlines.CALENDAR, deadlines.PROVISIONAL)


def _touches(
    created_column: sa.ColumnElement[datetime], due_column: sa.ColumnElement[datetime], year: int
) -> sa.ColumnElement[bool]:
    start, end = calendar.end_of_day(date(year - 1, 12, 31)), calendar.end_of_day(date(year, 12, 31))
    return sa.and_(created_column <= end, due_column > start)


async def recompute_year(conn: AsyncConnection, year: int, actor: str) -> dict[str, Any]:
    # Waits for timers being fired and holds new firings off until this transaction ends: both
    # lock tasks, cases and timers, in opposite orders (see ``timers.RESCHEDULE_LOCK``).
    await timer_firing.exclude_rescheduling(conn, exclusive=True)
    days = await calendar.load(conn)
    now = clock.now()
    rec = Recorder(actor)
    moved = {"tasks": 0, "applications": 0, "timers": 0}

    rows = (
        (
            await conn.execute(
                sa.select(tasks).where(
                    tasks.c.state == "open",
                    tasks.c.due_basis.in_(WORKING_BASES),
                    tasks.c.time_limit.is_not(None),
                    _touches(tasks.c.created_at, tasks.c.due_at, year),
                )
            )
        )
        .mappings()
        .all()
    )
    for task in rows:
        new = deadlines.compute(task["created_at"], task["time_limit"], days, what=f"task {task['name']}")
        assert new.due_at is not None  # the tasks read have a time limit
        if (new.due_at, new.basis) == (task["due_at"], task["due_basis"]):
            continue
        await conn.execute(
            sa.update(tasks)
            .where(tasks.c.id == task["id"])
            .values(
                due_at=new.due_at,
                due_basis=new.basis,
                remind_at=new.remind_at,
                # A deadline moved into the future may be reminded of and missed again.
                reminded_at=task["reminded_at"] if new.remind_at is None or new.remind_at <= now else None,
                overdue_at=task["overdue_at"] if new.due_at <= now else None,
            )
        )
        rec.add(
            "task.deadline_recomputed",
            task["application_id"],
            {
                "from": task["due_at"].isoformat(),
                "to": new.due_at.isoformat(),
                "due_basis": new.basis,
                "year": year,
            },
            task,
            task["division_path"],
        )
        moved["tasks"] += 1

    apps = (
        (
            await conn.execute(
                sa.select(applications).where(
                    applications.c.status == "in_progress",
                    applications.c.case_due_basis.in_(WORKING_BASES),
                    _touches(applications.c.created_at, applications.c.case_due_at, year),
                )
            )
        )
        .mappings()
        .all()
    )
    for app in apps:
        definition = await definitions.by_id(conn, app["definition_id"])
        new = deadlines.compute(
            app["created_at"], definition.config.process.case_time_limit, days, what="case"
        )
        assert (
            new.due_at is not None
        )  # the case was given a deadline in working days: its process has a limit
        if (new.due_at, new.basis) != (app["case_due_at"], app["case_due_basis"]):
            await conn.execute(
                sa.update(applications)
                .where(applications.c.id == app["id"])
                .values(case_due_at=new.due_at, case_due_basis=new.basis)
            )
            rec.add(
                "application.deadline_recomputed",
                app["id"],
                {
                    "from": app["case_due_at"].isoformat(),
                    "to": new.due_at.isoformat(),
                    "due_basis": new.basis,
                },
            )
            moved["applications"] += 1

    pending = (
        (
            await conn.execute(
                sa.select(timers).where(
                    timers.c.fired_at.is_(None),
                    timers.c.working_days.is_not(None),
                    _touches(timers.c.scheduled_at, timers.c.due_at, year),
                )
            )
        )
        .mappings()
        .all()
    )
    for timer in pending:
        due, provisional = days.deadline(timer["scheduled_at"], timer["working_days"])
        basis = deadlines.PROVISIONAL if provisional else deadlines.CALENDAR
        if (due, basis) == (timer["due_at"], timer["due_basis"]):
            continue
        case_row = dict(
            (await conn.execute(sa.select(applications).where(applications.c.id == timer["application_id"])))
            .mappings()
            .one()
        )
        definition = await definitions.by_id(conn, case_row["definition_id"])
        change = await CaseChange.load(conn, case_row, definition, actor)
        change.case.reschedule_timer(timer["engine_task_id"], due)
        await change.save()
        await conn.execute(
            sa.update(timers).where(timers.c.id == timer["id"]).values(due_at=due, due_basis=basis)
        )
        rec.add(
            "timer.rescheduled",
            app["id"],
            {
                "name": timer["name"],
                "from": timer["due_at"].isoformat(),
                "to": due.isoformat(),
                "due_basis": basis,
            },
        )
        moved["timers"] += 1
    await rec.flush(conn)
    return moved
