"""Case numbers people can say on the phone: <prefix>-<county>-<year>-<six digits>, e.g.
DB-340621-2026-000123 — sequential per program, county and year, with no gaps.

The number comes from a counter row updated in the transaction that inserts the case (a row
lock: concurrent cases of the same county queue on it for that moment); if the case is not
created, the transaction rolls the counter back with it.
"""

import re

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import case_number_counters as counters
from app.domain.programs.definitions import Definition
from app.domain.timekeeping import calendar

PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,9}-[0-9A-Za-z_-]{1,32}-[0-9]{4}-[0-9]{6,}$")
AREA_LEVELS = ("county", "city", "province")  # a case's area: its county, or what it has above it


def prefix_of(definition: Definition) -> str:
    return definition.config.process.case_number_prefix or definition.key.upper()


def area_of(levels: dict[str, str], fallback: str) -> str:
    return next((levels[level] for level in AREA_LEVELS if level in levels), fallback)


async def take(conn: AsyncConnection, definition: Definition, area_code: str) -> str:
    year = calendar.today().year
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(counters)
    last = (
        await conn.execute(
            insert.values(program=definition.key, area_code=area_code, year=year, last=1)
            .on_conflict_do_update(
                index_elements=["program", "area_code", "year"], set_={"last": counters.c.last + 1}
            )
            .returning(counters.c.last)
        )
    ).scalar_one()
    return f"{prefix_of(definition)}-{area_code}-{year}-{last:06d}"
