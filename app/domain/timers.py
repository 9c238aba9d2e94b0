"""Firing due timers (notice periods, time limits), one case per transaction.

Any number of workers may run: each picks a due timer with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL (SQLite has one writer at a time anyway), so no timer fires twice.
"""

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock, engine
from app.db.models import applications, timers
from app.domain import cases, definitions
from app.domain.audit import Recorder
from app.metrics import TIMERS_FIRED

log = structlog.get_logger(__name__)


async def fire_next(conn: AsyncConnection, skip: set[int]) -> int | None:
    """Fire the earliest due timer not in ``skip`` (and add it there); its id, or None when nothing is due."""
    now = clock.now()
    query = (sa.select(timers.c.id, timers.c.application_id, timers.c.name, timers.c.engine_task_id)
             .where(timers.c.fired_at.is_(None), timers.c.due_at <= now, timers.c.id.not_in(skip or {-1}))
             .order_by(timers.c.due_at).limit(1))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    timer = (await conn.execute(query)).first()
    if timer is None:
        return None
    skip.add(timer.id)
    app = dict((await conn.execute(sa.select(applications).where(applications.c.id == timer.application_id))).mappings().one())
    definition = await definitions.by_id(conn, app["definition_id"])
    case, ctx = await cases.load_case(conn, definition, app)
    try:
        await cases.run_engine(definition, case.fire_due_timers)
    except engine.EngineError as exc:
        log.error("timer_failed", application_id=app["id"], timer=timer.name, error=str(exc))
        return timer.id
    outcome = cases.outcome_of(case, ctx.days)
    if timer.engine_task_id not in outcome.timers_removed:
        log.warning("timer_not_fired_by_engine", application_id=app["id"], timer=timer.name)
        return timer.id
    rec = Recorder("system")
    rec.add("timer.fired", app["id"], {"name": timer.name})
    await cases.persist(conn, app, definition, outcome, rec, ctx)
    await rec.flush(conn)
    TIMERS_FIRED.inc()
    log.info("timer_fired", application_id=app["id"], timer=timer.name)
    return timer.id
