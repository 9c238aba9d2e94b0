"""Recomputing a year's deadlines and firing timers never interleave (PostgreSQL).

Recomputation locks tasks, then cases, then timers; firing a timer locks them the other way round,
so a replica starting (start-up recomputes a newly seeded year) beside a worker could deadlock. Each
waits for the other's transaction instead."""

import asyncio

import pytest

from app.config import PROJECT_ROOT
from app.db.engine import create_engine
from app.domain.cases import rescheduling, timers
from tests.helpers import Api

pytestmark = pytest.mark.dates

ESCALATION = (PROJECT_ROOT / "tests" / "bpmn" / "escalation_demo.bpmn").read_bytes()


async def _blocked(coro, seconds: float = 1.5) -> asyncio.Task:
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    assert not done, f"did not wait: {task.result()}"
    return task


async def _due_timer(api: Api) -> None:
    await api.upload(ESCALATION, "escalation_demo.bpmn")
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    await api.apply(program="escalation_demo")
    await api.advance(days=5)


async def test_recomputing_waits_for_a_timer_being_fired_and_holds_new_firings_off(api: Api):
    if not api.database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time")
    await _due_timer(api)
    db = create_engine(api.database_url)
    try:
        # A worker is firing a timer (its transaction not yet committed): recomputation waits for it.
        async with db.connect() as worker, db.connect() as starting:
            await worker.begin()
            assert await timers.fire_next(worker, set()) is not None
            await starting.begin()
            recompute = await _blocked(rescheduling.recompute_year(starting, 2026, "system"))
            await worker.commit()
            assert (await asyncio.wait_for(recompute, 10)) is not None
            await starting.rollback()
        # Recomputation under way (not committed): a worker fires nothing until it has finished.
        async with db.connect() as worker, db.connect() as starting:
            await starting.begin()
            await rescheduling.recompute_year(starting, 2026, "system")
            await worker.begin()
            firing = await _blocked(timers.fire_next(worker, set()))
            await starting.commit()
            await asyncio.wait_for(firing, 10)
            await worker.rollback()
    finally:
        await db.dispose()
