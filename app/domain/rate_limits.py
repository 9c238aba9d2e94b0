"""Rate limits that every replica shares: a sliding-window counter per client, kept in the database.

Each hit is one atomic upsert of the client's current fixed window, so concurrent hits through
different replicas are all counted; the allowance is the current window's hits plus the previous
window's, weighted by how much of it still lies inside the sliding window (the estimate the
`limits` library calls a sliding window counter). Windows are measured on the wall clock, not the
service's test clock: moving the test clock neither resets nor extends anyone's allowance.
"""

import math
from dataclasses import dataclass

import sqlalchemy as sa
from limits import parse
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import rate_limit_windows
from app.domain.errors import TooMany


@dataclass(frozen=True)
class Rule:
    limit: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rule":
        """``10/10 minutes``, ``2/minute``… (the `limits` notation)."""
        item = parse(text)
        return cls(limit=item.amount, window_seconds=item.get_expiry())


def _upsert(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(rate_limit_windows)
    return statement.on_conflict_do_update(
        index_elements=["scope", "client", "window_start"],
        set_={"hits": rate_limit_windows.c.hits + 1},
    ).returning(rate_limit_windows.c.hits)


async def hit(conn: AsyncConnection, scope: str, client: str, rule: Rule) -> None:
    """Count one hit of ``client``, or refuse it with 429 ``rate_limited`` beyond the rule.

    Run it in a transaction of its own, committed before the work it guards: a request that then
    fails still spent its allowance, and a refused one rolls its own hit back with the transaction."""
    now = clock.real_now().timestamp()
    size = rule.window_seconds
    start = int(now // size) * size
    client = client[:64]
    current = (await conn.execute(_upsert(conn.dialect.name).values(
        scope=scope, client=client, window_start=start, hits=1))).scalar_one()
    previous = (await conn.execute(sa.select(rate_limit_windows.c.hits).where(
        rate_limit_windows.c.scope == scope, rate_limit_windows.c.client == client,
        rate_limit_windows.c.window_start == start - size))).scalar() or 0
    weight = 1 - (now - start) / size
    if previous * weight + current <= rule.limit:
        await conn.execute(sa.delete(rate_limit_windows).where(
            rate_limit_windows.c.scope == scope, rate_limit_windows.c.window_start < start - size))
        return
    retry = max(1, math.ceil(start + size - now))
    raise TooMany("rate_limited", f"too many requests from this address; retry in {retry} seconds",
                  retry_after=retry)
