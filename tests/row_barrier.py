"""A barrier made of the database itself, for race tests on PostgreSQL.

Another connection holds a row lock (``FOR NO KEY UPDATE``: it blocks an UPDATE of the row, not a
foreign key check against it). Requests sent meanwhile read the row as it was and queue at the
statement that writes it; ``wait_for`` returns once exactly the expected number of them wait there
(read from ``pg_stat_activity``, so the test knows they collide at the guarded statement and not
before it), and ``release`` lets them go: the first to arrive holds the row's tuple lock and writes
first; the second meets the first's committed change inside its own guarded statement. (With more
than two, the order among the later ones is PostgreSQL's: they all wake when the first commits.)

SQLite has no such race: every transaction takes the write lock at BEGIN (IMMEDIATE), so a second
request reads what the first one committed and never reaches a guarded statement with stale data.
"""

import asyncio
import time

import sqlalchemy as sa

from app.db.engine import create_engine

_WAITING = sa.text(
    "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
)


class RowBarrier:
    def __init__(self, database_url: str, table: str, row):
        """``row``: the value of its ``id``, or {column: value} for another key."""
        assert database_url.startswith("postgresql"), "row barriers are PostgreSQL's"
        self._db = create_engine(database_url)
        self._table, self._key = table, row if isinstance(row, dict) else {"id": row}
        self._holder = None

    async def __aenter__(self) -> "RowBarrier":
        self._holder = await self._db.connect()
        await self._holder.begin()
        where = " AND ".join(f"{column} = :{column}" for column in self._key)
        locked = await self._holder.execute(
            sa.text(f"SELECT 1 FROM {self._table} WHERE {where} FOR NO KEY UPDATE"), self._key
        )
        assert locked.scalar_one_or_none() == 1, f"no row {self._key!r} in {self._table}"
        return self

    async def waiting(self) -> list[str]:
        async with self._db.connect() as conn:
            return [q for (q,) in (await conn.execute(_WAITING)).all()]

    async def wait_for(self, count: int, statement: str, seconds: float = 20) -> list[str]:
        """Until exactly ``count`` requests wait on a lock, all of them in a statement starting with
        ``statement`` (e.g. "UPDATE tasks"); fails with what waits where otherwise."""
        deadline = time.monotonic() + seconds
        waiting: list[str] = []
        while time.monotonic() < deadline:
            waiting = await self.waiting()
            if len(waiting) == count and all(q.lstrip().startswith(statement) for q in waiting):
                return waiting
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} requests waiting in {statement!r}, found: {waiting}")

    async def release(self) -> None:
        if self._holder is not None:
            await self._holder.rollback()
            await self._holder.close()
            self._holder = None

    async def __aexit__(self, *exc) -> None:
        await self.release()
        await self._db.dispose()


async def collide(database_url: str, table: str, row, statement: str, *requests) -> list:
    """Run ``requests`` (coroutines) so that, on PostgreSQL, each reaches ``statement`` on the row
    while the row is held, one after the other in the order given, and only then all go on: the first
    given writes first, the others meet its committed change inside their own guarded statement. On
    SQLite they run concurrently and the database's single writer orders them. Returns the results in
    the order given."""
    if not database_url.startswith("postgresql"):
        return list(await asyncio.gather(*requests))
    started = []
    try:
        async with RowBarrier(database_url, table, row) as barrier:
            for n, request in enumerate(requests, start=1):
                started.append(asyncio.ensure_future(request))
                await barrier.wait_for(n, statement)
    finally:
        for request in requests[len(started) :]:
            request.close()  # never started: no "coroutine was never awaited" warning
        done = await asyncio.gather(*started, return_exceptions=True)
    for result in done:
        if isinstance(result, BaseException):
            raise result
    return list(done)
