"""Random re-check sampling (抽查) per program, county and month.

The n-th case of a pool is drawn with a uniform value from ``Random(f"{seed}:{n}")``; it
goes to the re-check when that value is below the ratio, and also whenever the pool would
otherwise fall below the ratio, so the share sampled never drops under the setting at any
point of the month. The seed is recorded with the pool and every draw is an audit event,
so anyone can recompute the sample.
"""

import math
import random
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import sample_pools
from app.domain.errors import Conflict, Invalid
from app.domain.people import divisions as division_service
from app.domain.timekeeping import calendar


@dataclass
class Pool:
    program: str
    county_code: str
    month: str
    seed: str
    drawn: int
    sampled: int
    exists: bool


@dataclass(frozen=True)
class Draw:
    pool: Pool
    number: int
    value: float
    ratio: float
    forced: bool
    sampled: bool


def decide(seed: str, number: int, sampled_before: int, ratio: float) -> tuple[float, bool, bool]:
    """(uniform value, forced, sampled) of the ``number``-th draw of a pool."""
    value = random.Random(f"{seed}:{number}").random()
    forced = sampled_before < math.ceil(ratio * number - 1e-9)
    return value, forced, forced or value < ratio


async def pool_for(conn: AsyncConnection, program: str, app: dict[str, Any]) -> Pool:
    county = (
        await division_service.ancestors_by_level(
            conn, {"code": app["division_code"], "path": app["division_path"]}
        )
    ).get("county")
    if county is None:
        raise Invalid("no_county", "sampling needs the case's county")
    month = calendar.today().strftime("%Y-%m")
    row = (
        (
            await conn.execute(
                sa.select(sample_pools).where(
                    sample_pools.c.program == program,
                    sample_pools.c.county_code == county,
                    sample_pools.c.month == month,
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return Pool(program, county, month, secrets.token_hex(8), 0, 0, exists=False)
    return Pool(program, county, month, row["seed"], row["drawn"], row["sampled"], exists=True)


class Drawer:
    """The ``sample_recheck()`` function of one change; the draws are saved with the change."""

    def __init__(self, pool: Pool, ratio: float):
        self.pool = pool
        self.ratio = ratio
        self.draws: list[Draw] = []

    def __call__(self) -> bool:
        drawn = self.pool.drawn + len(self.draws)
        sampled = self.pool.sampled + sum(d.sampled for d in self.draws)
        value, forced, chosen = decide(self.pool.seed, drawn + 1, sampled, self.ratio)
        self.draws.append(Draw(self.pool, drawn + 1, value, self.ratio, forced, chosen))
        return chosen


async def save(conn: AsyncConnection, draws: list[Draw]) -> None:
    """Advance the pool; a concurrent draw in the same pool makes this change retry (409)."""
    if not draws:
        return
    pool = draws[0].pool
    sampled = sum(d.sampled for d in draws)
    if not pool.exists:
        try:
            async with conn.begin_nested():
                await conn.execute(
                    sa.insert(sample_pools).values(
                        program=pool.program,
                        county_code=pool.county_code,
                        month=pool.month,
                        seed=pool.seed,
                        drawn=len(draws),
                        sampled=sampled,
                    )
                )
            return
        except sa.exc.IntegrityError:
            raise Conflict(
                "concurrent_change", "another case was drawn for re-check at the same moment; retry"
            ) from None
    done = await conn.execute(
        sa.update(sample_pools)
        .where(
            sample_pools.c.program == pool.program,
            sample_pools.c.county_code == pool.county_code,
            sample_pools.c.month == pool.month,
            sample_pools.c.drawn == pool.drawn,
        )
        .values(drawn=pool.drawn + len(draws), sampled=pool.sampled + sampled)
    )
    if done.rowcount != 1:
        raise Conflict("concurrent_change", "another case was drawn for re-check at the same moment; retry")


def event_data(draw: Draw) -> dict[str, Any]:
    return {
        "county_code": draw.pool.county_code,
        "month": draw.pool.month,
        "seed": draw.pool.seed,
        "number": draw.number,
        "value": round(draw.value, 6),
        "ratio": draw.ratio,
        "forced": draw.forced,
        "sampled": draw.sampled,
    }
