"""Reading the figures: a place's totals over months, and the same split by the places one level down.

Each query sums the rollups and the deltas not yet folded under the place's path prefix (one range
scan of each table's place index), so a figure is exact whether or not the worker has run."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import divisions, report_deltas, report_rollups, tasks
from app.domain.errors import Forbidden, Invalid, NotFound
from app.domain.people.principal import Principal, path_range
from app.domain.reports import metrics
from app.domain.reports.metrics import CASE_METRICS, STEP_PREFIXES
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


@dataclass
class Figures:
    counts: dict[str, int] = field(default_factory=dict)
    steps: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, metric: str, count: int) -> None:
        for prefix in STEP_PREFIXES:
            if metric.startswith(prefix):
                step = self.steps.setdefault(metric[len(prefix) :], {"done": 0, "timed": 0, "on_time": 0})
                step[prefix[5:-1]] += count
                return
        self.counts[metric] = self.counts.get(metric, 0) + count

    def view(self) -> dict[str, object]:
        return {
            **{m: self.counts.get(m, 0) for m in CASE_METRICS},
            "steps": [
                {"step": name, **step, "on_time_share": _share(step["on_time"], step["timed"])}
                for name, step in sorted(self.steps.items())
            ],
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def may_read(principal: Principal, path: str) -> bool:
    """Staff whose grant covers the place (a portal key never: reports are for offices)."""
    return principal.is_admin or any(
        g.role != "portal" and g.division_path and path.startswith(g.division_path) for g in principal.grants
    )


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
    this_month = clock.now().astimezone(metrics.SHANGHAI).date().replace(day=1)
    last = last_month or this_month
    first = first_month or last.replace(month=1)
    if first > last:
        raise Invalid("invalid_period", "from must not be after to")
    return Scope(row["code"], row["name"], row["path"], first, last, program)


def _grouped(table: sa.Table, where: Scope, *, by_place: bool) -> sa.Select[tuple[object, ...]]:
    """Sums under the place's prefix; rollups at the coarsest grain that tells the places asked apart."""
    columns = [table.c.metric, sa.func.sum(table.c.count).label("n")]
    if by_place:
        columns.insert(0, table.c.place_path)
    query = sa.select(*columns).where(
        path_range(table.c.place_path, where.path),
        table.c.month >= where.first_month,
        table.c.month <= where.last_month,
    )
    if where.program is not None:
        query = query.where(table.c.program == where.program)
    if table is report_rollups:
        query = query.where(table.c.grain == metrics.grain_for(metrics.depth(where.path) + int(by_place)))
    group = [table.c.place_path, table.c.metric] if by_place else [table.c.metric]
    return query.group_by(*group)


async def _rows(conn: AsyncConnection, where: Scope, *, by_place: bool) -> list[AnyRow]:
    found: list[AnyRow] = []
    for table in (report_rollups, report_deltas):
        found.extend((await conn.execute(_grouped(table, where, by_place=by_place))).all())
    return found


async def overdue_now(conn: AsyncConnection, path: str) -> dict[str, int]:
    """Open steps past their deadline at or below the place, now, per place holding them
    (ix_tasks_state_due carries the path)."""
    query = (
        sa.select(tasks.c.division_path, sa.func.count())
        .where(tasks.c.state == "open", tasks.c.due_at < clock.now(), path_range(tasks.c.division_path, path))
        .group_by(tasks.c.division_path)
    )
    return {str(place): int(n) for place, n in (await conn.execute(query)).all()}


async def summary(conn: AsyncConnection, where: Scope) -> dict[str, object]:
    figures = Figures()
    for metric, n in await _rows(conn, where, by_place=False):
        figures.add(str(metric), int(n))
    return {
        **_header(where),
        **figures.view(),
        "overdue_now": sum((await overdue_now(conn, where.path)).values()),
    }


async def by_place(conn: AsyncConnection, where: Scope) -> dict[str, object]:
    """The place's figures split by the places one level down (those with no figures are listed too)."""
    if metrics.depth(where.path) >= metrics.GRAIN_DEPTH:
        raise Invalid("report_place_too_low", "figures are not kept below this place; list its cases instead")
    children = (
        await conn.execute(
            sa.select(divisions.c.code, divisions.c.name, divisions.c.path)
            .where(divisions.c.parent_code == where.code)
            .order_by(divisions.c.code)
        )
    ).all()
    per_child: dict[str, Figures] = defaultdict(Figures)
    level = metrics.depth(where.path) + 1
    for place_path, metric, n in await _rows(conn, where, by_place=True):
        parts = str(place_path).strip("/").split("/")
        if len(parts) >= level:  # figures kept at the place itself have no child to go to
            per_child["/" + "/".join(parts[:level]) + "/"].add(str(metric), int(n))
    overdue: dict[str, int] = defaultdict(int)
    for place_path, n in (await overdue_now(conn, where.path)).items():
        overdue[metrics.cut(place_path, level)] += n
    places = [
        {
            "code": code,
            "name": name,
            **per_child[path].view(),
            "overdue_now": overdue[path],
        }
        for code, name, path in children
        if metrics.depth(path) <= metrics.GRAIN_DEPTH
    ]
    return {**_header(where), "places": places}


def _header(where: Scope) -> dict[str, object]:
    return {
        "place": {"code": where.code, "name": where.name},
        "program": where.program,
        "from": where.first_month.strftime("%Y-%m"),
        "to": where.last_month.strftime("%Y-%m"),
    }
