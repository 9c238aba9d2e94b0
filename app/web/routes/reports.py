"""统计报表 (/ui/reports): a place's figures over months for whoever may read them (docs/reports.md):
a summary, the monthly trend, on-time shares by step, the places one level down (drill-down to the
township, whose row lists its cases in 案件查询) and those places ranked by overdue work now; a number of
the summary or the months leads to the cases behind it (``report_links``, ``report_cases``). Each table
downloads as CSV and XLSX with the page's values; each chart is drawn from the JSON of its table."""

from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.errors import Forbidden, Invalid, NotFound
from app.domain.people import divisions
from app.domain.people.roles import LEVELS
from app.domain.programs import definitions
from app.domain.reports import figures, metrics, months, places
from app.web import report_files, report_links
from app.web import report_tables as tables
from app.web.context import Me, WebCtx
from app.web.render import page

router = APIRouter()
TOP_OVERDUE = 15  # places the overdue chart draws (its table lists them all)
PLACE_CHOICE_LEVELS = 3  # the filter lists places down to counties; townships are reached by drill-down


@dataclass(frozen=True)
class Filters:
    place: str
    program: str
    from_: str
    to: str

    def query(self, **change: str) -> str:
        values = {"place": self.place, "program": self.program, "from": self.from_, "to": self.to, **change}
        return urlencode({k: v for k, v in values.items() if v})


FromQuery = Annotated[str, Query(alias="from", max_length=7)]


def _filters(place: str, program: str, from_: str, to: str) -> Filters:
    return Filters(place.strip()[:32], program.strip()[:100], from_.strip(), to.strip())


def require_reader(me: Me) -> None:
    if not places.reads_reports(me.principal):
        raise Forbidden("report_not_allowed", "reports are for offices at a township or above")


@dataclass
class Loaded:
    where: figures.Scope
    summary: dict[str, object]
    months: list[dict[str, object]]
    by_place: dict[str, object] | None  # None at the lowest level figures are kept at
    titles: dict[str, str]


async def _step_titles(conn: AsyncConnection, program: str | None) -> dict[str, str]:
    """Step key → its Chinese title in the program (or the first program that has the step)."""
    keys = [program] if program else [p["key"] for p in await definitions.list_latest(conn)]
    titles: dict[str, str] = {}
    for key in keys:
        try:
            model = (await definitions.latest(conn, key)).model
        except Invalid:  # a program named in the URL that is not deployed: its steps keep their keys
            continue
        for name, step in model.steps.items():
            titles.setdefault(name, step.title)
    return titles


async def _load(conn: AsyncConnection, me: Me, f: Filters) -> Loaded:
    require_reader(me)
    where = await figures.scope(
        conn,
        me.principal,
        f.place or None,
        f.program or None,
        figures.parse_month(f.from_),
        figures.parse_month(f.to),
    )
    by_place = None
    if metrics.depth(where.path) < metrics.GRAIN_DEPTH:
        by_place = await figures.by_place(conn, where)
    return Loaded(
        where,
        await figures.summary(conn, where),
        await months.by_month(conn, where),
        by_place,
        await _step_titles(conn, where.program),
    )


def _last_day(month: date) -> date:
    return month.replace(day=monthrange(month.year, month.month)[1])


def _cases_link(code: str, where: figures.Scope) -> str:
    """案件查询 of a place's cases submitted in the period (the case list behind its figures)."""
    query = {
        "division_code": code,
        "program": where.program or "",
        "submitted_from": where.first_month.isoformat(),
        "submitted_to": _last_day(where.last_month).isoformat(),
    }
    return "/ui/cases?" + urlencode({k: v for k, v in query.items() if v})


def _place_links(loaded: Loaded, f: Filters) -> list[str | None]:
    """A place one level down leads to its own report, a township to its cases."""
    assert loaded.by_place is not None
    lowest = metrics.depth(loaded.where.path) + 1 >= metrics.GRAIN_DEPTH
    return [
        _cases_link(str(p["code"]), loaded.where)
        if lowest
        else "/ui/reports?" + f.query(place=str(p["code"]))
        for p in loaded.by_place["places"]  # type: ignore[attr-defined]
    ]


def _tables(loaded: Loaded, f: Filters) -> dict[str, tables.Table]:
    found = {
        "summary": tables.summary_table(loaded.summary),
        "months": tables.months_table(loaded.months),
        "steps": tables.steps_table(loaded.summary, loaded.titles),
    }
    found["summary"].cell_links = report_links.summary_links(found["summary"], loaded.where)
    found["months"].cell_links = report_links.months_links(found["months"], loaded.where)
    if loaded.by_place is not None:
        links = _place_links(loaded, f)
        found["places"] = tables.places_table(loaded.by_place, links)
        found["overdue"] = tables.overdue_table(loaded.by_place, links)
    return found


def _charts(found: dict[str, tables.Table]) -> dict[str, dict[str, object]]:
    """What each chart draws, taken from its table (reports.js reads it from the page's JSON)."""
    trend = found["months"]
    charts: dict[str, dict[str, object]] = {
        "months": {
            "kind": "trend",
            "labels": [trend.cell(r, trend.columns[0]) for r in trend.rows],
            "series": [
                {"name": c.header, "data": [r[c.key] for r in trend.rows]}
                for c in trend.columns
                if c.key in tables.TREND_KEYS
            ],
        }
    }
    timed = [r for r in found["steps"].rows if r["on_time_share"] is not None]
    if timed:
        charts["steps"] = {
            "kind": "bars",
            "name": "按时率",
            "unit": "%",
            "labels": [r["title"] for r in timed],
            "data": [round(float(r["on_time_share"]) * 100, 2) for r in timed],  # type: ignore[arg-type]
        }
    taken = [r for r in found["steps"].rows if r["median_days"] is not None]
    if taken:
        charts["days"] = {
            "kind": "grouped",
            "axis": "工作日",
            "labels": [r["title"] for r in taken],
            "series": [
                {"name": "中位数", "data": [r["median_days"] for r in taken]},
                {"name": "90%分位", "data": [r["p90_days"] for r in taken]},
            ],
        }
    if "overdue" in found:
        top = found["overdue"].rows[:TOP_OVERDUE]
        charts["overdue"] = {
            "kind": "bars",
            "name": "当前超期待办",
            "unit": "件",
            "labels": [r["name"] for r in top],
            "data": [r["overdue_now"] for r in top],
        }
    return charts


async def place_choices(conn: AsyncConnection, me: Me, where: figures.Scope) -> list[dict[str, Any]]:
    """The filter's places, with the place shown even when it is a township reached by drill-down."""
    choices = await places.choices(conn, me.principal, PLACE_CHOICE_LEVELS)
    if where.code not in {c["code"] for c in choices}:
        choices.append({"code": where.code, "name": where.name, "path": where.path})
        choices.sort(key=lambda c: str(c["path"]))
    return choices


async def _page_context(conn: AsyncConnection, me: Me, f: Filters) -> dict[str, Any]:
    loaded = await _load(conn, me, f)
    found = _tables(loaded, f)
    choices = await place_choices(conn, me, loaded.where)
    lowest = metrics.depth(loaded.where.path) >= metrics.GRAIN_DEPTH
    return {
        "where": loaded.where,
        "filters": f,
        "tables": found,
        "charts": _charts(found),
        "programs": await definitions.list_latest(conn),
        "places": choices,
        "ancestors": await places.ancestors(conn, me.principal, loaded.where.path),
        "own_cases": _cases_link(loaded.where.code, loaded.where) if lowest else None,
        # Downloads and the print view: exactly the period shown, even across a month's turn.
        "query": f.query(
            place=loaded.where.code,
            **{"from": f"{loaded.where.first_month:%Y-%m}", "to": f"{loaded.where.last_month:%Y-%m}"},
        ),
    }


@router.get("/reports")
async def show(ctx: WebCtx, place: str = "", program: str = "", from_: FromQuery = "", to: str = ""):
    f = _filters(place, program, from_, to)
    async with ctx.begin() as (conn, me):
        context = await _page_context(conn, me, f)
    return page(ctx.request, "reports.html", me=me, csrf=ctx.csrf, nav="reports", **context)


@router.get("/reports/print")
async def printable(ctx: WebCtx, place: str = "", program: str = "", from_: FromQuery = "", to: str = ""):
    """The same tables and charts on A4 without the navigation (print CSS in ui.css)."""
    f = _filters(place, program, from_, to)
    async with ctx.begin() as (conn, me):
        context = await _page_context(conn, me, f)
    return page(ctx.request, "reports_print.html", me=me, csrf=ctx.csrf, **context)


async def _level_tables(conn: AsyncConnection, me: Me, loaded: Loaded) -> list[tables.Table]:
    """The drill-down workbook: one sheet per level below the place, down to the townships."""
    sheets, parents = [], [loaded.by_place] if loaded.by_place is not None else []
    while parents:
        children = [p for report in parents for p in report["places"]]  # type: ignore[attr-defined]
        levels = await divisions.lookup(conn, [str(p["code"]) for p in children])
        kinds = sorted({str(levels[str(p["code"])]["level"]) for p in children})
        title = "、".join(LEVELS.get(k, k) for k in kinds) or "下级地区"
        sheets.append(tables.level_table(title, parents))
        lower = []
        for child in children:
            where = await figures.scope(
                conn,
                me.principal,
                str(child["code"]),
                loaded.where.program,
                loaded.where.first_month,
                loaded.where.last_month,
            )
            if metrics.depth(where.path) < metrics.GRAIN_DEPTH:
                lower.append(await figures.by_place(conn, where))
        parents = lower
    return sheets


async def _download(ctx: WebCtx, table: str, f: Filters, xlsx: bool) -> Response:
    async with ctx.begin() as (conn, me):
        loaded = await _load(conn, me, f)
        found = _tables(loaded, f)
        if table not in found:
            raise NotFound("report_table_not_found", f"no table {table!r} in this report")
        sheets = [found[table]]
        if xlsx and table == "places":
            sheets = await _level_tables(conn, me, loaded)
    where = loaded.where
    name = f"report-{where.code}-{where.first_month:%Y%m}-{where.last_month:%Y%m}-{table}"
    return report_files.download(sheets, name, xlsx=xlsx)


@router.get("/reports/{table}.csv")
async def csv_file(
    ctx: WebCtx, table: str, place: str = "", program: str = "", from_: FromQuery = "", to: str = ""
):
    return await _download(ctx, table, _filters(place, program, from_, to), xlsx=False)


@router.get("/reports/{table}.xlsx")
async def xlsx_file(
    ctx: WebCtx, table: str, place: str = "", program: str = "", from_: FromQuery = "", to: str = ""
):
    return await _download(ctx, table, _filters(place, program, from_, to), xlsx=True)
