"""Placing the test-mode service clock on an instant, shared through the database.

The clock may move backwards as well as forwards (a test stands on the day its rules need,
whatever today's real date is). Nothing already stored moves with it: timers, deadlines and
notice ends keep their instants and fire or fall due when the clock reaches them again, and
what already happened (fired timers, overdue marks, audit times) stays as it was.
"""

import math
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import service_clock
from app.domain.errors import Invalid


async def load(conn: AsyncConnection) -> None:
    offset = (
        await conn.execute(sa.select(service_clock.c.offset_seconds).where(service_clock.c.id == 1))
    ).scalar()
    clock.set_offset_seconds(offset or 0.0)


def _target(advance_seconds: float | None, to: datetime | None) -> datetime:
    if (advance_seconds is None) == (to is None):
        raise Invalid("clock_bad_request", "give exactly one of advance_seconds or to")
    if to is not None:
        if to.tzinfo is None:
            raise Invalid("clock_bad_request", "'to' needs a timezone offset")
        target = to.astimezone(UTC)
    else:
        assert advance_seconds is not None  # exactly one of the two, checked above
        span = (clock.LATEST - clock.EARLIEST).total_seconds()
        if not math.isfinite(advance_seconds) or abs(advance_seconds) > span:
            raise Invalid("clock_out_of_range", f"advance_seconds must be a finite number within ±{span:.0f}")
        target = clock.now() + timedelta(seconds=advance_seconds)
    if not clock.EARLIEST <= target <= clock.LATEST:
        raise Invalid(
            "clock_out_of_range",
            f"the service clock stays between {clock.EARLIEST.isoformat()} and {clock.LATEST.isoformat()}",
        )
    return target


async def move(conn: AsyncConnection, *, advance_seconds: float | None, to: datetime | None) -> datetime:
    """Place the clock on ``to`` or ``advance_seconds`` from now (negative: back); answer the new now."""
    await load(conn)
    target = _target(advance_seconds, to)
    offset = (target - clock.real_now()).total_seconds()
    updated = await conn.execute(
        sa.update(service_clock).where(service_clock.c.id == 1).values(offset_seconds=offset)
    )
    if updated.rowcount == 0:
        await conn.execute(sa.insert(service_clock).values(id=1, offset_seconds=offset))
    clock.set_offset_seconds(offset)
    return clock.now()
