"""Persisting what an engine change did to a case: task rows, timers, message waits, status.

Every change to a case (start, completion, timer, message) ends here, in the caller's
transaction, and bumps the application's version with an optimistic check: a writer
that lost a race gets a 409 and its whole transaction rolls back.
"""

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock, engine
from app.db.models import applications, message_waits, tasks, timers
from app.domain.audit import Recorder
from app.domain.cases import events
from app.domain.errors import Conflict, Invalid
from app.domain.money import ledger, sampling
from app.domain.notices import entries as notices
from app.domain.people import divisions as division_service
from app.domain.programs.definitions import Definition
from app.domain.timekeeping import calendar, deadlines

# The statements every change runs, built once: building one and its cache key costs as much as
# running it (SQLAlchemy), so the hot path only binds values.
_CANCEL_TASKS = (
    sa.update(tasks)
    .where(
        tasks.c.application_id == sa.bindparam("app_id"),
        tasks.c.engine_task_id.in_(sa.bindparam("engine_ids", expanding=True)),
        tasks.c.state == "open",
    )
    .values(state="cancelled", completed_at=sa.bindparam("now"))
    .returning(tasks.c.id, tasks.c.name)
)
_END_TIMERS = (
    sa.update(timers)
    .where(
        timers.c.application_id == sa.bindparam("app_id"),
        timers.c.engine_task_id.in_(sa.bindparam("engine_ids", expanding=True)),
        timers.c.fired_at.is_(None),
    )
    .values(fired_at=sa.bindparam("now"), cancelled=timers.c.due_at > sa.bindparam("now"))
    .returning(timers.c.name, timers.c.due_at)
)
_END_WAITS = sa.delete(message_waits).where(
    message_waits.c.application_id == sa.bindparam("app_id"),
    message_waits.c.message_name.in_(sa.bindparam("names", expanding=True)),
)
_SAVE_STATE = (
    sa.update(applications)
    .where(
        applications.c.id == sa.bindparam("app_id"), applications.c.version == sa.bindparam("read_version")
    )
    .values(
        engine_state=sa.bindparam("state"),
        version=sa.bindparam("new_version"),
        status=sa.bindparam("new_status"),
        updated_at=sa.bindparam("now"),
        ended_at=sa.bindparam("ended"),
    )
)
_INSERT_TASKS = sa.insert(tasks)
_INSERT_TIMERS = sa.insert(timers)
_INSERT_WAITS = sa.insert(message_waits)
_WAITS_FOR = (
    sa.select(message_waits.c.id)
    .where(
        message_waits.c.application_id == sa.bindparam("app_id"),
        message_waits.c.message_name == sa.bindparam("name"),
    )
    .limit(1)
)

WORKING_DAYS_TIMER = re.compile(r"^\s*working_days\(\s*(\d+)\s*\)\s*$")


def expression_functions(days: calendar.WorkingDays) -> dict[str, Any]:
    """Functions BPMN expressions may call. ``working_days(N)`` is a timer duration that ends
    at the end of the Nth working day after today (the calendar's rule), on the service clock."""

    def working_days(count: int) -> str:
        due, _ = days.deadline(clock.now(), int(count))
        return f"PT{max(0, int((due - clock.now()).total_seconds()))}S"

    return {"working_days": working_days}


@dataclass
class Context:
    """What one change of a case runs with: the calendar, and the draws it made for sampling."""

    days: calendar.WorkingDays
    drawers: list[sampling.Drawer] = field(default_factory=list)


def _uses(definition: Definition, function: str) -> bool:
    return any(f"{function}(" in source for _, _, source in definition.model.expressions)


async def _context(
    conn: AsyncConnection, definition: Definition, app: dict[str, Any]
) -> tuple[dict[str, Any], Context]:
    """Functions for the case's expressions; ledger and sample pools are read only when used."""
    ctx = Context(await calendar.load(conn))
    functions = expression_functions(ctx.days)
    if _uses(definition, "person_year_total") or _uses(definition, "family_year_total"):
        totals = await ledger.totals(
            conn,
            app["applicant_id_number"],
            app.get("family_id") or app["applicant_id_number"],
            calendar.today().year,
        )
        functions.update(ledger.functions(totals, definition.key))
    if _uses(definition, "sample_recheck"):
        ratio = float((app.get("settings") or {}).get("sample_recheck_ratio", 0))
        drawer = sampling.Drawer(await sampling.pool_for(conn, definition.key, app), ratio)
        ctx.drawers.append(drawer)
        functions["sample_recheck"] = drawer
    if _uses(definition, "notice_end"):
        # A case being started has no notice yet.
        ends_at = None if app.get("engine_state") is None else await notices.open_period_end(conn, app["id"])

        def notice_end() -> str:
            """A timer duration that ends when the case's notice period does (0 if it already has)."""
            left = 0 if ends_at is None else (ends_at - clock.now()).total_seconds()
            return f"PT{max(0, int(left) + (left > int(left)))}S"

        functions["notice_end"] = notice_end
    return functions, ctx


P = ParamSpec("P")
R = TypeVar("R")


async def run_engine(definition: Definition, change: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run one engine change (start, complete, fire timers, deliver, go back, migrate).

    A process with scripts runs them in worker processes (``app.script_pool``) and waits up to
    their wall-clock budget: its changes run in a thread so the event loop keeps answering
    meanwhile. Every other process stays on the loop: its conditions are bounded by the sandbox
    and a thread hop would cost every completion."""
    if definition.model.runs_scripts:
        return await asyncio.to_thread(change, *args, **kwargs)
    return change(*args, **kwargs)


def engine_failure(exc: engine.EngineError, what: str) -> Invalid:
    """The problem a failed engine change answers: a bound that was hit has its own code."""
    if isinstance(exc, engine.ScriptLimitError):
        return Invalid("script_limit_exceeded", f"{what}: BPMN code went beyond its limits: {exc}")
    if isinstance(exc, engine.TimerValueError):
        return Invalid("timer_value_out_of_range", f"{what}: {exc}")
    return Invalid("engine_error", f"{what}: {exc}")


async def start_case(
    conn: AsyncConnection, definition: Definition, data: dict[str, Any], app: dict[str, Any]
) -> tuple[engine.Case, Context]:
    functions, ctx = await _context(conn, definition, app)
    return await run_engine(definition, engine.Case.start, definition.model, data, functions), ctx


async def load_case(
    conn: AsyncConnection, definition: Definition, app: dict[str, Any]
) -> tuple[engine.Case, Context]:
    functions, ctx = await _context(conn, definition, app)
    return engine.Case.load(definition.model, app["engine_state"], functions), ctx


def outcome_of(case: engine.Case, days: calendar.WorkingDays) -> engine.Outcome:
    """The change's outcome, with new working-day timers set to the exact end of their last
    working day (the engine adds a duration to its own "now", a few microseconds off)."""
    for timer in case.new_timers():
        match = WORKING_DAYS_TIMER.match(timer.expression or "")
        if match:
            case.reschedule_timer(timer.engine_task_id, days.deadline(clock.now(), int(match[1]))[0])
    return case.outcome()


def timer_basis(
    timer: engine.PendingTimer, days: calendar.WorkingDays, start: datetime
) -> tuple[int | None, str]:
    match = WORKING_DAYS_TIMER.match(timer.expression or "")
    if not match:
        return None, deadlines.NATURAL
    count = int(match[1])
    _, provisional = days.deadline(start, count)
    return count, deadlines.PROVISIONAL if provisional else deadlines.CALENDAR


async def route(conn: AsyncConnection, app: dict[str, Any], role: str) -> tuple[str, str]:
    """The place that holds ``role`` for this case: its ancestor (or itself) at the role's level."""
    level = division_service.role_level(role)
    by_level = await division_service.ancestors_by_level(
        conn, {"code": app["division_code"], "path": app["division_path"]}
    )
    code = by_level.get(level) if level else None
    if code is None:
        raise Invalid(
            "no_division_for_role",
            f"the case's place {app['division_code']} has no {level} above it to hold role {role!r}",
            role=role,
        )
    path = app["division_path"]
    marker = f"/{code}/"
    return code, path[: path.index(marker) + len(marker)]


async def persist(
    conn: AsyncConnection,
    app: dict[str, Any],
    definition: Definition,
    outcome: engine.Outcome,
    rec: Recorder,
    ctx: Context,
    *,
    is_new: bool = False,
) -> tuple[list[dict[str, Any]], list[events.Event]]:
    """Write the outcome to the case's task, timer and wait rows; returns the rows it opened and what
    happened, for the reactions (``cases.reactions``) to follow up. The state and status are saved
    after those reactions (``save_state``), as the trail has always had them."""
    now = rec.at
    happened: list[events.Event] = []
    days = ctx.days
    app_id = app["id"]
    if outcome.closed_engine_task_ids:
        cancelled = await conn.execute(
            _CANCEL_TASKS,
            {"app_id": app_id, "engine_ids": sorted(outcome.closed_engine_task_ids), "now": now},
        )
        for row in cancelled:
            rec.add("task.cancelled", app_id, {}, {"id": row.id, "name": row.name}, app["division_path"])

    opened: list[dict[str, Any]] = []
    for ready in outcome.opened:
        role = ready.step.role
        assert role is not None  # a user task in no lane is refused at deploy
        code, path = await route(conn, app, role)
        time_limit = definition.config.steps[ready.step.id].time_limit
        deadline = deadlines.compute(now, time_limit, days, what=f"task {ready.step.id}")
        opened.append(
            {
                "id": str(uuid.uuid4()),
                "application_id": app_id,
                "case_number": app.get("number"),
                "program": definition.key,
                "engine_task_id": ready.engine_task_id,
                "name": ready.step.id,
                "title": ready.step.title,
                "role": ready.step.role,
                "division_code": code,
                "division_path": path,
                "state": "open",
                "assignee": None,
                "form": definition.config.steps[ready.step.id].form,
                "created_at": now,
                "due_at": deadline.due_at,
                "due_basis": deadline.basis,
                "remind_at": deadline.remind_at,
                "time_limit": time_limit,
                "completed_at": None,
                "completed_by": None,
                "data": None,
                "reminded_at": None,
                "overdue_at": None,
                "claimed_at": None,
                "note": None,
                "delegated_to": None,
            }
        )
    if opened:
        await conn.execute(_INSERT_TASKS, opened)
        for task in opened:
            rec.add(
                "task.created",
                app_id,
                {
                    "role": task["role"],
                    "division_code": task["division_code"],
                    "due_at": task["due_at"].isoformat() if task["due_at"] else None,
                },
                task,
                task["division_path"],
            )
        happened.append(events.TasksOpened(opened))

    if outcome.timers_removed:
        ended = await conn.execute(
            _END_TIMERS, {"app_id": app_id, "engine_ids": sorted(outcome.timers_removed), "now": now}
        )
        happened.extend(events.TimerEnded(t.name, t.due_at, early=t.due_at > now) for t in ended.all())
    if outcome.timers_added:
        rows = []
        for t in outcome.timers_added:
            count, basis = timer_basis(t, days, now)
            rows.append(
                {
                    "application_id": app_id,
                    "engine_task_id": t.engine_task_id,
                    "name": t.name,
                    "due_at": t.due_at,
                    "fired_at": None,
                    "cancelled": False,
                    "scheduled_at": now,
                    "working_days": count,
                    "due_basis": basis,
                }
            )
            rec.add(
                "timer.scheduled",
                app_id,
                {"name": t.name, "due_at": t.due_at.isoformat(), "due_basis": basis},
            )
        await conn.execute(_INSERT_TIMERS, rows)
        happened.append(events.TimersScheduled(list(outcome.timers_added)))
    if outcome.messages_removed:
        await conn.execute(_END_WAITS, {"app_id": app_id, "names": sorted(outcome.messages_removed)})
    if outcome.messages_added:
        await conn.execute(
            _INSERT_WAITS,
            [
                {"application_id": app_id, "message_name": m, "created_at": now}
                for m in sorted(outcome.messages_added)
            ],
        )

    if outcome.completed:  # after the status: a follow-up case must see this one ended
        happened.append(events.CaseEnded(outcome))
    else:
        if is_new:
            happened.append(events.CaseStarted())
        if outcome.messages_added:
            happened.append(events.WaitsAdded(frozenset(outcome.messages_added)))
    return opened, happened


async def save_draws(conn: AsyncConnection, app: dict[str, Any], ctx: Context, rec: Recorder) -> None:
    """The sampling draws the change made (``sample_recheck``)."""
    for drawer in ctx.drawers:
        await sampling.save(conn, drawer.draws)
        for draw in drawer.draws:
            rec.add("sample.drawn", app["id"], sampling.event_data(draw), None, app["division_path"])


async def save_state(
    conn: AsyncConnection, app: dict[str, Any], outcome: engine.Outcome, rec: Recorder
) -> None:
    """The case's new state, version and status; a writer that lost a race gets a 409."""
    now, app_id = rec.at, app["id"]
    status = status_for(outcome)
    result = await conn.execute(
        _SAVE_STATE,
        {
            "app_id": app_id,
            "read_version": app["version"],
            "state": outcome.state,
            "new_version": app["version"] + 1,
            "new_status": status,
            "now": now,
            "ended": now if outcome.completed else None,
        },
    )
    if result.rowcount != 1:
        raise Conflict(
            "concurrent_change", "the case was changed by someone else at the same time; reload and retry"
        )
    if status != app["status"]:
        rec.add(
            "application.status_changed",
            app_id,
            {"from": app["status"], "to": status},
            None,
            app["division_path"],
        )
    app.update(
        status=status,
        version=app["version"] + 1,
        updated_at=now,
        ended_at=now if outcome.completed else None,
        engine_state=outcome.state,
    )


async def waits_for(conn: AsyncConnection, application_id: str, name: str) -> bool:
    """Whether the case waits for the message ``name`` now."""
    found = await conn.execute(_WAITS_FOR, {"app_id": application_id, "name": name})
    return found.first() is not None


def status_for(outcome: engine.Outcome) -> str:
    """The application status follows the end event reached (its ``outcome`` property)."""
    return (outcome.end_outcome or "terminated") if outcome.completed else "in_progress"
