"""The official working-day calendar (工作日) and the one rule for counting it.

The rule, stated once: **the start day does not count; a limit of N working days ends at
the end (23:59:59, Asia/Shanghai) of the Nth working day after the start day.**  "Working
days between A and B" counts the working days d with A < d <= B, so that
``count(start, add(start, N)) == N``.

A working day is a Monday–Friday that is not a statutory holiday, or a weekend day the
State Council declared worked (调休).  Years come from the database (seeded from the
``chinese-calendar`` package, loaded or corrected by administrators).  A year with no
calendar is never guessed: it is counted on weekends only and every answer that touched
it says ``provisional``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import chinese_calendar
import sqlalchemy as sa
import structlog
from chinese_calendar import constants
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import calendar_years
from app.domain import audit
from app.domain.errors import Invalid

SHANGHAI = ZoneInfo("Asia/Shanghai")
# No procedure runs for ten years; the bound keeps a hostile "99999 working days" from looping a worker.
MAX_DAYS = 3660
log = structlog.get_logger(__name__)


class YearIn(BaseModel):
    source: str = Field(min_length=1, max_length=500)
    holidays: list[date] = Field(default_factory=list, max_length=366)
    working_days: list[date] = Field(default_factory=list, max_length=366)


Value = TypeVar("Value", date, int)


@dataclass(frozen=True)
class Answer(Generic[Value]):
    """A computed date or count, and whether an unpublished year was involved."""

    value: Value
    provisional: bool


class WorkingDays:
    """An immutable snapshot of every loaded year; pure and synchronous (usable inside the engine)."""

    def __init__(self, years: dict[int, tuple[frozenset[date], frozenset[date]]]):
        self._years = years

    def is_known(self, year: int) -> bool:
        return year in self._years

    def is_working_day(self, day: date) -> bool:
        holidays, worked = self._years.get(day.year, (frozenset(), frozenset()))
        if day in worked:
            return True
        return day.weekday() < 5 and day not in holidays

    def add(self, start: date, count: int) -> Answer[date]:
        """The Nth working day after ``start`` (``start`` itself never counts)."""
        if not 0 <= count <= MAX_DAYS:
            raise ValueError(f"a count of working days must be between 0 and {MAX_DAYS}")
        day, provisional = start, False
        while count > 0:
            day += timedelta(days=1)
            provisional |= not self.is_known(day.year)
            if self.is_working_day(day):
                count -= 1
        return Answer(day, provisional)

    def count(self, start: date, end: date) -> Answer[int]:
        """Working days d with start < d <= end (negative when end is before start)."""
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        total, provisional, day = 0, False, start
        while day < end:
            day += timedelta(days=1)
            provisional |= not self.is_known(day.year)
            total += self.is_working_day(day)
        return Answer(sign * total, provisional)

    def deadline(self, start: datetime, count: int) -> tuple[datetime, bool]:
        answer = self.add(start.astimezone(SHANGHAI).date(), count)
        return end_of_day(answer.value), answer.provisional


def unpublished_years_ahead(days: WorkingDays, on: date) -> list[int]:
    """Years deadlines reach soon whose official calendar is not loaded: this year, and from November
    the next (the State Council publishes its holiday notice for a year in late autumn)."""
    years = [on.year, on.year + 1] if on.month >= 11 else [on.year]
    return [year for year in years if not days.is_known(year)]


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), SHANGHAI).astimezone(UTC)


def today() -> date:
    return clock.now().astimezone(SHANGHAI).date()


# Parsing the years is kept per process, but whether it is still current is asked of the database
# on every load (one small query): a year loaded through any replica is in force on every replica
# from the commit on, with no window in which another replica computes deadlines on the old one.
_cache: dict[str, tuple[tuple[Any, ...], WorkingDays]] = {}
_STAMPS = sa.select(calendar_years.c.year, calendar_years.c.updated_at).order_by(calendar_years.c.year)


async def load(conn: AsyncConnection) -> WorkingDays:
    key = str(conn.engine.url)
    stamps = tuple((await conn.execute(_STAMPS)).all())
    cached = _cache.get(key)
    if cached and cached[0] == stamps:
        return cached[1]
    rows = await conn.execute(
        sa.select(calendar_years.c.year, calendar_years.c.holidays, calendar_years.c.working_days)
    )
    snapshot = WorkingDays(
        {
            r.year: (
                frozenset(date.fromisoformat(d) for d in r.holidays),
                frozenset(date.fromisoformat(d) for d in r.working_days),
            )
            for r in rows
        }
    )
    _cache[key] = (stamps, snapshot)
    return snapshot


def forget_cached(conn: AsyncConnection) -> None:
    _cache.pop(str(conn.engine.url), None)


def parse_year(text: str) -> int:
    if not (len(text) == 4 and text.isdigit() and 1949 <= int(text) <= 2200):
        raise Invalid("invalid_year", f"year must be four digits between 1949 and 2200, not {text!r}")
    return int(text)


def check_year(year: int, body: YearIn) -> None:
    problems = []
    for field in ("holidays", "working_days"):
        for day in getattr(body, field):
            if day.year != year:
                problems.append({"field": field, "date": day.isoformat(), "message": f"not in {year}"})
        if len(set(getattr(body, field))) != len(getattr(body, field)):
            problems.append({"field": field, "date": None, "message": "a date is listed twice"})
    for day in sorted(set(body.holidays) & set(body.working_days)):
        problems.append(
            {"field": "working_days", "date": day.isoformat(), "message": "also listed as a holiday"}
        )
    for day in body.working_days:
        if day.weekday() < 5:
            problems.append(
                {
                    "field": "working_days",
                    "date": day.isoformat(),
                    "message": "a weekday is a working day anyway; list only worked weekend days (调休)",
                }
            )
    if problems:
        raise Invalid("invalid_calendar", f"the calendar for {year} is inconsistent", errors=problems)


async def store_year(conn: AsyncConnection, year: int, body: YearIn, actor: str) -> dict[str, Any]:
    check_year(year, body)
    values = {
        "source": body.source,
        "holidays": sorted(d.isoformat() for d in body.holidays),
        "working_days": sorted(d.isoformat() for d in body.working_days),
        "updated_at": clock.now(),
        "updated_by": actor,
    }
    # Every deadline counts on these days: a change is in the authority trail with the old year.
    before = await get_year(conn, year)
    old = None if before["provisional"] else {k: before[k] for k in ("source", "holidays", "working_days")}
    new = {k: values[k] for k in ("source", "holidays", "working_days")}
    if old != new:
        await audit.record_change(
            conn, actor, "calendar.set" if old is None else "calendar.changed", f"calendar:{year}", old, new
        )
    updated = await conn.execute(
        sa.update(calendar_years).where(calendar_years.c.year == year).values(**values)
    )
    if updated.rowcount == 0:
        await conn.execute(sa.insert(calendar_years).values(year=year, **values))
    forget_cached(conn)
    return await get_year(conn, year)


async def get_year(conn: AsyncConnection, year: int) -> dict[str, Any]:
    row = (
        (await conn.execute(sa.select(calendar_years).where(calendar_years.c.year == year)))
        .mappings()
        .first()
    )
    if row is None:
        return {
            "year": year,
            "source": None,
            "holidays": [],
            "working_days": [],
            "provisional": True,
            "detail": "no calendar published for this year: counted on weekends only",
        }
    return {
        "year": year,
        "source": row["source"],
        "holidays": row["holidays"],
        "working_days": row["working_days"],
        "provisional": False,
        "updated_at": row["updated_at"],
        "updated_by": row["updated_by"],
    }


async def seed_from_package(conn: AsyncConnection) -> list[int]:
    """Store every year the ``chinese-calendar`` package knows and the database lacks."""
    known = set((await conn.execute(sa.select(calendar_years.c.year))).scalars())
    years: dict[int, YearIn] = {}
    source = f"chinese-calendar {chinese_calendar.__version__} (国务院办公厅节假日安排)"
    for day in constants.holidays:
        years.setdefault(day.year, YearIn(source=source)).holidays.append(day)
    for day in constants.workdays:
        if day.weekday() >= 5:
            years.setdefault(day.year, YearIn(source=source)).working_days.append(day)
    added = []
    for year, body in sorted(years.items()):
        if year not in known:
            await store_year(conn, year, body, "system")
            added.append(year)
    return added


def parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("invalid_date", f"{name} must be a date YYYY-MM-DD, not {text!r}") from None


async def answer_query(conn: AsyncConnection, start: str, add: int | None, end: str | None) -> dict[str, Any]:
    if (add is None) == (end is None):
        raise Invalid("calendar_bad_request", "give exactly one of add or to")
    wd = await load(conn)
    start_day = parse_day(start, "from")
    if add is not None:
        if not 0 <= add <= MAX_DAYS:
            raise Invalid("calendar_bad_request", f"add must be between 0 and {MAX_DAYS}")
        answer = wd.add(start_day, add)
        return {"date": answer.value.isoformat(), "provisional": answer.provisional}
    assert end is not None  # exactly one of add and end, checked above
    end_day = parse_day(end, "to")
    if abs((end_day - start_day).days) > 3660 * 2:
        raise Invalid("calendar_bad_request", "the span is too long")
    counted = wd.count(start_day, end_day)
    return {"count": counted.value, "provisional": counted.provisional}
