"""月度报表 (/ui/reports/monthly): a program's own monthly report (``domain/reports/monthly.report``) for a
place and a month — the place (合计) and each place below it, the data and report deadlines — for whoever
reads that program there (``domain/reports/access.py``); CSV and XLSX equal to the page, and a print view.
Registered before the reports page's routes: ``/reports/{table}.csv`` would take ``monthly.csv``."""

from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.errors import Forbidden
from app.domain.programs import definitions
from app.domain.reports import figures, metrics, monthly
from app.web import report_files
from app.web import report_tables as tables
from app.web.context import Me, WebCtx
from app.web.render import page
from app.web.routes.reports import place_choices, require_reader

router = APIRouter()
STAGES = {"collecting": "数据报送中", "reporting": "数据已截止，报表待报送", "closed": "报送期已过"}
PlaceQuery = Annotated[str, Query(max_length=32)]
ProgramQuery = Annotated[str, Query(max_length=100)]
MonthQuery = Annotated[str, Query(max_length=7)]


@dataclass(frozen=True)
class Choice:
    place: str
    program: str
    month: str

    def query(self, **change: str) -> str:
        values = {"place": self.place, "program": self.program, "month": self.month, **change}
        return urlencode({k: v for k, v in values.items() if v})


@dataclass
class Loaded:
    where: figures.Scope
    offered: list[dict[str, Any]]  # the programs the caller reads at the place
    report: dict[str, Any] | None  # None: the caller reads no program there
    table: tables.Table | None


def _links(report: dict[str, Any], shown: Choice) -> list[str | None]:
    """Each place below leads to its own monthly report (the place itself, 合计, leads nowhere)."""
    return [
        None if row["total"] else "/ui/reports/monthly?" + shown.query(place=str(row["code"]))
        for row in report["rows"]
    ]


async def _load(conn: AsyncConnection, me: Me, place: str, program: str, month: str) -> tuple[Loaded, Choice]:
    require_reader(me)
    the_month = figures.parse_month(month.strip()) or figures.this_month()
    # The same checks as the API: the place, and the program when one is named (403 if not read).
    where = await figures.scope(
        conn, me.principal, place.strip() or None, program.strip() or None, the_month, the_month
    )
    offered = [
        p for p in await definitions.list_latest(conn) if where.programs is None or p["key"] in where.programs
    ]
    if where.program is None and offered:
        where = replace(where, program=str(offered[0]["key"]))
    shown = Choice(where.code, where.program or "", f"{the_month:%Y-%m}")
    if where.program is None:
        return Loaded(where, offered, None, None), shown
    report = await monthly.report(conn, where)
    return Loaded(where, offered, report, tables.monthly_table(report, _links(report, shown))), shown


async def _context(conn: AsyncConnection, me: Me, place: str, program: str, month: str) -> dict[str, Any]:
    loaded, shown = await _load(conn, me, place, program, month)
    report = loaded.report
    return {
        "where": loaded.where,
        "month": loaded.where.first_month,
        "offered": loaded.offered,
        "places": await place_choices(conn, me, loaded.where),
        "report": report,
        "stage": STAGES.get(str(report["stage"]), "") if report else "",
        "table": loaded.table,
        "query": shown.query(),
        "reports_query": urlencode(
            {"place": loaded.where.code, "from": shown.month, "to": shown.month, "program": shown.program}
        ),
        "below": metrics.depth(loaded.where.path) < metrics.GRAIN_DEPTH,
    }


@router.get("/reports/monthly")
async def show(ctx: WebCtx, place: PlaceQuery = "", program: ProgramQuery = "", month: MonthQuery = ""):
    async with ctx.begin() as (conn, me):
        context = await _context(conn, me, place, program, month)
    return page(ctx.request, "monthly_report.html", me=me, csrf=ctx.csrf, nav="reports", **context)


@router.get("/reports/monthly/print")
async def printable(ctx: WebCtx, place: PlaceQuery = "", program: ProgramQuery = "", month: MonthQuery = ""):
    """The report on A4 without the navigation (print CSS in ui.css)."""
    async with ctx.begin() as (conn, me):
        context = await _context(conn, me, place, program, month)
    return page(ctx.request, "monthly_report_print.html", me=me, csrf=ctx.csrf, **context)


async def _download(ctx: WebCtx, place: str, program: str, month: str, xlsx: bool) -> Response:
    async with ctx.begin() as (conn, me):
        loaded, _ = await _load(conn, me, place, program, month)
    where, table = loaded.where, loaded.table
    if table is None:  # the caller reads no program at the place: nothing to download, as on the page
        raise Forbidden("report_not_allowed", "no program of this place is readable by the caller")
    name = f"monthly-{where.program}-{where.code}-{where.first_month:%Y%m}"
    return report_files.download([table], name, xlsx=xlsx)


@router.get("/reports/monthly.csv")
async def csv_file(ctx: WebCtx, place: PlaceQuery = "", program: ProgramQuery = "", month: MonthQuery = ""):
    return await _download(ctx, place, program, month, xlsx=False)


@router.get("/reports/monthly.xlsx")
async def xlsx_file(ctx: WebCtx, place: PlaceQuery = "", program: ProgramQuery = "", month: MonthQuery = ""):
    return await _download(ctx, place, program, month, xlsx=True)
