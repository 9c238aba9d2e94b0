"""Moving the test-mode service clock (never backwards), shared through the database."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import service_clock
from app.domain.errors import Invalid


async def load(conn: AsyncConnection) -> None:
    offset = (await conn.execute(sa.select(service_clock.c.offset_seconds).where(service_clock.c.id == 1))).scalar()
    clock.set_offset_seconds(offset or 0.0)


async def move(conn: AsyncConnection, *, advance_seconds: float | None, to: datetime | None) -> datetime:
    await load(conn)
    if (advance_seconds is None) == (to is None):
        raise Invalid("clock_bad_request", "give exactly one of advance_seconds or to")
    if to is not None:
        if to.tzinfo is None:
            raise Invalid("clock_bad_request", "'to' needs a timezone offset")
        advance_seconds = (to.astimezone(UTC) - clock.now()).total_seconds()
    if advance_seconds < 0:
        raise Invalid("clock_backwards", "the service clock only moves forward")
    offset = clock.offset_seconds() + advance_seconds
    updated = await conn.execute(sa.update(service_clock).where(service_clock.c.id == 1).values(offset_seconds=offset))
    if updated.rowcount == 0:
        await conn.execute(sa.insert(service_clock).values(id=1, offset_seconds=offset))
    clock.set_offset_seconds(offset)
    return clock.now()
