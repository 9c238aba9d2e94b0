"""Firing due timers (notice periods, time limits), one case per transaction.

Any number of workers may run: each picks a due timer with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL (SQLite has one writer at a time anyway), so no timer fires twice.

A timer whose step fails (a script error in what follows it, a process that cannot go on) is not
tried on every poll forever: it is tried again after 1, 2, 4… minutes (at most an hour apart, on
the service clock), and after ``MAX_ATTEMPTS`` it is set aside as failed, with a ``timer.failed``
event on the case, for an administrator to look at (``GET /admin/timers/failed``).
"""

import re
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock, engine
from app.db.models import applications, timers
from app.domain.audit import Recorder
from app.domain.cases.change import CaseChange
from app.domain.errors import NotFound
from app.domain.programs import definitions
from app.metrics import TIMERS_FAILED, TIMERS_FIRED
from app.shapes import AnyRow

log = structlog.get_logger(__name__)
MAX_ATTEMPTS = 8
# Recomputing a year's deadlines (``rescheduling.recompute_year``: at start-up, or a calendar loaded
# by an administrator) locks tasks, then cases, then timers; firing a timer locks them the other way
# round. Each firing holds this advisory lock shared and a recomputation holds it exclusively, so
# the two never interleave and cannot deadlock (PostgreSQL; SQLite has one writer anyway).
RESCHEDULE_LOCK = 0x41494454


async def exclude_rescheduling(conn: AsyncConnection, *, exclusive: bool) -> None:
    if conn.dialect.name == "postgresql":
        lock = sa.func.pg_advisory_xact_lock if exclusive else sa.func.pg_advisory_xact_lock_shared
        await conn.execute(sa.select(lock(RESCHEDULE_LOCK)))


async def fire_next(conn: AsyncConnection, skip: set[int]) -> int | None:
    """Fire the earliest due timer not in ``skip`` (and add it there); its id, or None when nothing is due."""
    await exclude_rescheduling(conn, exclusive=False)  # before any row lock is taken
    now = clock.now()
    query = (
        sa.select(
            timers.c.id, timers.c.application_id, timers.c.name, timers.c.engine_task_id, timers.c.attempts
        )
        .where(
            timers.c.fired_at.is_(None),
            timers.c.failed_at.is_(None),
            timers.c.due_at <= now,
            sa.or_(timers.c.retry_at.is_(None), timers.c.retry_at <= now),
            timers.c.id.not_in(skip or {-1}),
        )
        .order_by(timers.c.due_at)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    timer = (await conn.execute(query)).first()
    if timer is None:
        return None
    timer_id: int = timer.id
    skip.add(timer_id)
    app = dict(
        (await conn.execute(sa.select(applications).where(applications.c.id == timer.application_id)))
        .mappings()
        .one()
    )
    definition = await definitions.by_id(conn, app["definition_id"])
    change = await CaseChange.load(conn, app, definition, "system")
    change.case.hold_timers(
        (
            await conn.execute(
                sa.select(timers.c.engine_task_id).where(
                    timers.c.application_id == app["id"],
                    timers.c.failed_at.is_not(None),
                    timers.c.fired_at.is_(None),
                )
            )
        ).scalars()
    )
    try:
        await change.act(change.case.fire_timer, timer.engine_task_id, failure=None)
    except engine.EngineError as exc:
        error_id = uuid.uuid4().hex[:16]
        log.error(
            "timer_step_failed", application_id=app["id"], timer=timer.name, error_id=error_id, error=str(exc)
        )
        # A computed timer value out of range comes from the case's data: trying again gives the same.
        await _failed(
            conn, timer, app, reason_of(exc, error_id), final=isinstance(exc, engine.TimerValueError)
        )
        return timer_id
    if timer.engine_task_id not in change.outcome.timers_removed:
        await _failed(conn, timer, app, "the engine did not fire this timer")
        return timer_id
    change.rec.add("timer.fired", app["id"], {"name": timer.name})
    await change.save()
    TIMERS_FIRED.inc()
    log.debug("timer_fired", application_id=app["id"], timer=timer.name)
    return timer_id


async def _failed(
    conn: AsyncConnection, timer: AnyRow, app: dict[str, Any], error: str, *, final: bool = False
) -> None:
    """Back off, or set the timer aside for good after MAX_ATTEMPTS or at once when ``final`` (the
    case's trail says so)."""
    attempts = timer.attempts + 1
    now = clock.now()
    values = {"attempts": attempts, "last_error": error[:500]}
    if attempts >= MAX_ATTEMPTS or final:
        values["failed_at"] = now
        rec = Recorder("system")
        rec.add("timer.failed", app["id"], {"name": timer.name, "attempts": attempts, "error": error[:500]})
        await rec.flush(conn)
        TIMERS_FAILED.inc()
        log.error("timer_failed", application_id=app["id"], timer=timer.name, attempts=attempts, error=error)
    else:
        values["retry_at"] = now + timedelta(minutes=min(60, 2 ** (attempts - 1)))
        log.warning(
            "timer_retry_later",
            application_id=app["id"],
            timer=timer.name,
            attempts=attempts,
            retry_at=values["retry_at"].isoformat(),
            error=error,
        )
    await conn.execute(sa.update(timers).where(timers.c.id == timer.id).values(**values))


_WRAPPERS = {
    "EngineError",
    "ScriptLimitError",
    "ExpressionError",
    "WorkflowException",
    "WorkflowTaskException",
    "SpiffWorkflowException",
}
_ERROR_CLASS = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception|Exceeded))\b")


def _first_cause(exc: BaseException) -> str:
    """The class of what first went wrong (ZeroDivisionError…): a script fails in a worker process
    and comes back as text ("line 1: ZeroDivisionError: …"), anything else as a chain of causes."""
    for found in _ERROR_CLASS.finditer(str(exc)):
        if found[1] not in _WRAPPERS:
            return found[1]
    cause, depth = exc, 0
    while depth < 10:
        deeper = getattr(cause, "exception", None) or cause.__cause__ or cause.__context__
        if deeper is None:
            break
        cause, depth = deeper, depth + 1
    return type(cause).__name__


def reason_of(exc: BaseException, error_id: str) -> str:
    """What the trail and the admin list keep of a failure: exception classes and our own words (a
    domain error's code and sentence), never the text of an engine or unexpected exception, which
    may quote the case's data; that goes to the log under ``error_id``."""
    if isinstance(exc, engine.TimerValueError):  # our own words: the timer and why, not its value
        return f"timer_value_out_of_range: {exc.reason} (error id {error_id} in the worker's log)"
    if isinstance(exc, engine.EngineError):
        # A script's own error text may quote the case's data ("invalid literal for int(): '张三'"):
        # the trail keeps the classes only.
        return (
            f"{type(exc).__name__} ({_first_cause(exc)}): the step after the timer failed "
            f"(error id {error_id} in the worker's log)"
        )
    code = getattr(exc, "code", None)
    if code is not None:  # a DomainError: a stable code and our own sentence
        return f"{code}: {getattr(exc, 'detail', '')}"
    return f"unexpected {type(exc).__name__} (error id {error_id} in the worker's log)"


async def record_failure(conn: AsyncConnection, timer_id: int, reason: str) -> None:
    """A timer's step failed outside the transaction that tried it (which rolled back): count the
    attempt in a transaction of its own, so the timer backs off instead of blocking every round."""
    timer = (
        await conn.execute(
            sa.select(timers.c.id, timers.c.application_id, timers.c.name, timers.c.attempts).where(
                timers.c.id == timer_id, timers.c.fired_at.is_(None)
            )
        )
    ).first()
    if timer is None:  # fired meanwhile by another worker
        return
    await _failed(conn, timer, {"id": timer.application_id}, reason)


async def failed(conn: AsyncConnection, limit: int = 200) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(
            timers.c.id,
            timers.c.application_id,
            timers.c.name,
            timers.c.due_at,
            timers.c.attempts,
            timers.c.failed_at,
            timers.c.last_error,
            applications.c.number.label("case_number"),
            applications.c.program,
        )
        .join(applications, applications.c.id == timers.c.application_id)
        .where(timers.c.failed_at.is_not(None), timers.c.fired_at.is_(None))
        .order_by(timers.c.failed_at.desc())
        .limit(limit)
    )
    return [dict(r) for r in rows.mappings()]


async def retry(conn: AsyncConnection, timer_id: int, actor: str) -> dict[str, Any]:
    """An administrator sends a failed timer round again (after fixing what made its step fail)."""
    row = (
        await conn.execute(
            sa.update(timers)
            .where(timers.c.id == timer_id, timers.c.failed_at.is_not(None), timers.c.fired_at.is_(None))
            .values(failed_at=None, retry_at=None, attempts=0)
            .returning(timers.c.application_id, timers.c.name)
        )
    ).first()
    if row is None:
        raise NotFound("timer_not_failed", f"no failed timer {timer_id}")
    rec = Recorder(actor)
    rec.add("timer.retried", row.application_id, {"name": row.name})
    await rec.flush(conn)
    return {"id": timer_id, "application_id": row.application_id, "name": row.name, "status": "due"}
