"""Reading the figures: a place's totals over months, and the same split by the places one level down.

Each query sums the rollups and the deltas not yet folded under the place's path prefix (one range
scan of each table's place index), so a figure is exact whether or not the worker has run."""

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import applications, divisions, report_deltas, report_rollups, tasks
from app.domain.errors import Forbidden, Invalid, NotFound
from app.domain.people.principal import Principal, path_range
from app.domain.reports import access, metrics
from app.domain.reports.metrics import CASE_METRICS, DAYS_PREFIX, STEP_PREFIXES, STOCKS
from app.shapes import AnyRow


@dataclass(frozen=True)
class Scope:
    """What a report covers: a place (at or above the rollup grain), months, maybe one program."""

    code: str
    name: str
    path: str
    first_month: date
    last_month: date
    program: str | None
    # The programs the caller reads (access.readable_programs); None: every program.
    programs: frozenset[str] | None = None

    def program_filter(self, column: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
        where = [column == self.program] if self.program is not None else []
        if self.programs is not None:
            where.append(column.in_(sorted(self.programs)))
        return where


# The sources of the stock figures (metrics.STOCKS, and the adjustments of monthly amounts): read over
# every month up to the period's last.
STOCK_SOURCES = (
    "notices_opened",
    "notices_closed",
    "enrolments_started",
    "enrolments_ended",
    "enrolments_adjusted",
)


@dataclass
class Figures:
    counts: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    steps: dict[str, dict[str, int]] = field(default_factory=dict)
    days: dict[str, dict[int, int]] = field(default_factory=dict)
    stocks: dict[str, tuple[int, Decimal]] = field(default_factory=dict)

    def add(self, metric: str, count: int, amount: Decimal = Decimal(0)) -> None:
        if metric.startswith(DAYS_PREFIX):
            name, _, taken = metric[len(DAYS_PREFIX) :].rpartition(":")
            histogram = self.days.setdefault(name, {})
            histogram[int(taken)] = histogram.get(int(taken), 0) + count
            self.steps.setdefault(name, {"done": 0, "timed": 0, "on_time": 0})
            return
        for prefix in STEP_PREFIXES:
            if metric.startswith(prefix):
                step = self.steps.setdefault(metric[len(prefix) :], {"done": 0, "timed": 0, "on_time": 0})
                step[prefix[5:-1]] += count
                return
        self.counts[metric] = self.counts.get(metric, 0) + count
        self.amounts[metric] = self.amounts.get(metric, Decimal(0)) + amount

    def add_stock(self, metric: str, count: int, amount: Decimal) -> None:
        """A row up to the period's last month, for the figures at its end (metrics.STOCKS)."""
        before = self.stocks.get(metric, (0, Decimal(0)))
        self.stocks[metric] = (before[0] + count, before[1] + amount)

    def stock(self, name: str) -> int:
        return sum(self.stocks.get(m, (0, Decimal(0)))[0] * sign for m, sign in STOCKS[name])

    def view(self) -> dict[str, object]:
        monthly = sum(
            (
                self.stocks.get(m, (0, Decimal(0)))[1] * s
                for m, s in (("enrolments_started", 1), ("enrolments_ended", -1), ("enrolments_adjusted", 1))
            ),
            Decimal(0),
        )
        return {
            **{m: self.counts.get(m, 0) for m in CASE_METRICS},
            "in_notice": self.stock("in_notice"),
            "enrolments_active": self.stock("enrolments_active"),
            "monthly_amount_active": _yuan(monthly),
            "payments_scheduled": self.counts.get("amount_scheduled", 0),
            "amount_scheduled": _yuan(self.amounts.get("amount_scheduled", Decimal(0))),
            "payments_paid": self.counts.get("amount_paid", 0),
            "amount_paid": _yuan(self.amounts.get("amount_paid", Decimal(0))),
            "steps": [self.step_view(name) for name in sorted(self.steps)],
        }

    def step_view(self, name: str) -> dict[str, object]:
        step = self.steps[name]
        histogram = self.days.get(name, {})
        return {
            "step": name,
            **step,
            "on_time_share": _share(step["on_time"], step["timed"]),
            "median_days": percentile(histogram, 0.5),
            "p90_days": percentile(histogram, 0.9),
        }


def percentile(histogram: dict[int, int], q: float) -> int | None:
    """The nearest-rank percentile of whole working days (exact: the smallest d with at least
    ceil(q·n) steps taking d days or fewer); ``metrics.DAYS_CAP`` stands for that many or more."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank, seen = max(1, math.ceil(q * total)), 0
    for taken in sorted(histogram):
        seen += histogram[taken]
        if seen >= rank:
            return taken
    return max(histogram)


def _yuan(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.01")))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def may_read(principal: Principal, path: str) -> bool:
    """Staff whose grant covers the place (a portal key never: reports are for offices)."""
    return access.may_read_place(principal, path)


async def scope(
    conn: AsyncConnection,
    principal: Principal,
    place: str | None,
    program: str | None,
    first_month: date | None,
    last_month: date | None,
) -> Scope:
    """Check who asks about what; the place defaults to the caller's highest place."""
    if place is None:
        paths = sorted(
            (g.division_path for g in principal.grants if g.role != "portal" and g.division_path),
            key=len,
        )
        if not paths:
            raise Invalid("place_required", "name the place (division code) the report is for")
        row = (await conn.execute(sa.select(divisions).where(divisions.c.path == paths[0]))).mappings().one()
    else:
        found = (await conn.execute(sa.select(divisions).where(divisions.c.code == place))).mappings().first()
        if found is None:
            raise NotFound("division_not_found", f"no division {place}")
        row = found
    if not may_read(principal, row["path"]):
        raise Forbidden("report_not_allowed", "无权查看该地区的统计")
    if metrics.depth(row["path"]) > metrics.GRAIN_DEPTH:
        raise Invalid(
            "report_place_too_low",
            f"reports are kept down to level {metrics.GRAIN_DEPTH} of the division tree; ask for a place above",
        )
    last = last_month or this_month()
    first = first_month or last.replace(month=1)
    if first > last:
        raise Invalid("invalid_period", "from must not be after to")
    programs = await access.readable_programs(conn, principal, row["path"])
    if program is not None and programs is not None and program not in programs:
        raise Forbidden("report_not_allowed", "无权查看该项目的统计")
    return Scope(row["code"], row["name"], row["path"], first, last, program, programs)


# The years a report's month may name: those the working-day calendar takes (timekeeping.calendar.parse_year).
# Outside them a year does not print as four digits, or the month after December does not exist.
FIRST_YEAR, LAST_YEAR = 1949, 2200


def parse_month(text: str | None) -> date | None:
    """A month asked for in a query (``YYYY-MM``), for the API and the web pages alike; None when absent."""
    if not text:
        return None
    found = re.fullmatch(r"([0-9]{4})-([0-9]{2})", text)  # not \d: it takes ２０２６ too
    if found is None or not 1 <= int(found[2]) <= 12 or not FIRST_YEAR <= int(found[1]) <= LAST_YEAR:
        raise Invalid(
            "invalid_month",
            f"a month is YYYY-MM with a year from {FIRST_YEAR} to {LAST_YEAR} and MM from 01 to 12",
        )
    return date(int(found[1]), int(found[2]), 1)


def this_month() -> date:
    return clock.now().astimezone(metrics.SHANGHAI).date().replace(day=1)


def _grouped(table: sa.Table, where: Scope, *, by_place: bool) -> sa.Select[tuple[object, ...]]:
    """Sums under the place's prefix; rollups at the coarsest grain that tells the places asked apart.
    One scan gives both the period's sums (``n``, ``a``) and, for the stock figures' sources, the sums of
    every month up to the last (``n_all``, ``a_all``: their value at the end of the period)."""
    in_period = table.c.month >= where.first_month
    columns = [
        table.c.metric,
        sa.func.sum(sa.case((in_period, table.c.count), else_=0)).label("n"),
        sa.func.sum(sa.case((in_period, table.c.amount), else_=0)).label("a"),
        sa.func.sum(table.c.count).label("n_all"),
        sa.func.sum(table.c.amount).label("a_all"),
    ]
    if by_place:
        columns.insert(0, table.c.place_path)
    query = sa.select(*columns).where(
        path_range(table.c.place_path, where.path),
        table.c.month <= where.last_month,
        sa.or_(in_period, table.c.metric.in_(STOCK_SOURCES)),
        *where.program_filter(table.c.program),
    )
    if table is report_rollups:
        query = query.where(table.c.grain == metrics.grain_for(metrics.depth(where.path) + int(by_place)))
    group = [table.c.place_path, table.c.metric] if by_place else [table.c.metric]
    return query.group_by(*group)


async def _rows(conn: AsyncConnection, where: Scope, *, by_place: bool) -> list[AnyRow]:
    found: list[AnyRow] = []
    for table in (report_rollups, report_deltas):
        found.extend((await conn.execute(_grouped(table, where, by_place=by_place))).all())
    return found


def _add(figures: Figures, metric: str, n: Any, a: Any, n_all: Any, a_all: Any) -> None:
    """One grouped row: the period's sums, and for a stock figure's source those up to the last month.
    (PostgreSQL sums a CASE of integers as numeric: a Decimal, which may print as 1.00E+6.)"""
    if metric in STOCK_SOURCES:
        figures.add_stock(metric, int(n_all), Decimal(str(a_all)))
    figures.add(metric, int(n), Decimal(str(a)))


async def _figures(conn: AsyncConnection, where: Scope) -> Figures:
    figures = Figures()
    for metric, n, a, n_all, a_all in await _rows(conn, where, by_place=False):
        _add(figures, str(metric), n, a, n_all, a_all)
    return figures


async def overdue_now(
    conn: AsyncConnection, path: str, programs: frozenset[str] | None = None
) -> dict[str, int]:
    """Open steps past their deadline at or below the place, now, per place holding them
    (ix_tasks_state_due carries the path)."""
    query = (
        sa.select(tasks.c.division_path, sa.func.count())
        .where(tasks.c.state == "open", tasks.c.due_at < clock.now(), path_range(tasks.c.division_path, path))
        .group_by(tasks.c.division_path)
    )
    if programs is not None:
        query = query.join(applications, applications.c.id == tasks.c.application_id).where(
            applications.c.program.in_(sorted(programs))
        )
    return {str(place): int(n) for place, n in (await conn.execute(query)).all()}


def _programs_now(where: Scope) -> frozenset[str] | None:
    """The programs whose open work counts in ``overdue_now``."""
    if where.program is not None:
        return frozenset({where.program})
    return where.programs


async def summary(conn: AsyncConnection, where: Scope) -> dict[str, object]:
    figures = await _figures(conn, where)
    return {
        **_header(where),
        **figures.view(),
        "overdue_now": sum((await overdue_now(conn, where.path, _programs_now(where))).values()),
    }


async def steps(conn: AsyncConnection, where: Scope) -> dict[str, object]:
    """Per step: how many were done, the share on time, working days taken (median, 90th percentile)
    and the histogram they come from (working days → steps; the last bucket is DAYS_CAP or more)."""
    figures = await _figures(conn, where)
    return {
        **_header(where),
        "days_cap": metrics.DAYS_CAP,
        "steps": [
            {
                **figures.step_view(name),
                "days": [{"days": d, "count": n} for d, n in sorted(figures.days.get(name, {}).items()) if n],
            }
            for name in sorted(figures.steps)
        ],
    }


async def by_place(conn: AsyncConnection, where: Scope) -> dict[str, object]:
    """The place's figures split by the places one level down (those with no figures are listed too)."""
    if metrics.depth(where.path) >= metrics.GRAIN_DEPTH:
        raise Invalid("report_place_too_low", "figures are not kept below this place; list its cases instead")
    children = (
        await conn.execute(
            sa.select(divisions.c.code, divisions.c.name, divisions.c.path, divisions.c.level)
            .where(divisions.c.parent_code == where.code)
            .order_by(divisions.c.code)
        )
    ).all()
    per_child: dict[str, Figures] = defaultdict(Figures)
    level = metrics.depth(where.path) + 1
    for place_path, metric, n, a, n_all, a_all in await _rows(conn, where, by_place=True):
        parts = str(place_path).strip("/").split("/")
        if len(parts) >= level:  # figures kept at the place itself have no child to go to
            _add(per_child["/" + "/".join(parts[:level]) + "/"], str(metric), n, a, n_all, a_all)
    overdue: dict[str, int] = defaultdict(int)
    for place_path, n in (await overdue_now(conn, where.path, _programs_now(where))).items():
        overdue[metrics.cut(place_path, level)] += n
    places = [
        {
            "code": code,
            "name": name,
            **per_child[path].view(),
            "overdue_now": overdue[path],
        }
        for code, name, path, _ in children
        if metrics.depth(path) <= metrics.GRAIN_DEPTH
    ]
    levels = sorted({str(level) for *_, level in children})
    return {**_header(where), "places_level": levels[0] if len(levels) == 1 else None, "places": places}


def _header(where: Scope) -> dict[str, object]:
    return {
        "place": {"code": where.code, "name": where.name},
        "program": where.program,
        "from": where.first_month.strftime("%Y-%m"),
        "to": where.last_month.strftime("%Y-%m"),
    }
