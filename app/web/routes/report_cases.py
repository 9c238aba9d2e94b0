"""案件清单 (/ui/reports/cases): the cases behind a number of 统计报表 — a figure of one month found again in
the audit trail, or a figure of now from the live tables — as ``GET /api/v1/reports/cases`` lists them
(``domain/reports/cases.behind``: masked, only the cases the caller sees, of the programs it reads), a
page at a time, with CSV and XLSX equal to the page. Registered before the reports page's routes:
``/reports/{table}.csv`` would take ``cases.csv``."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.people import divisions
from app.domain.programs import definitions
from app.domain.reports import cases, figures, metrics
from app.domain.reports.tables import ALL_HEADERS
from app.web import labels, report_files
from app.web import report_tables as tables
from app.web.context import Me, WebCtx
from app.web.render import page
from app.web.routes.reports import require_reader

router = APIRouter()
FigureQuery = Annotated[str, Query(max_length=40)]
PlaceQuery = Annotated[str, Query(max_length=32)]
ProgramQuery = Annotated[str, Query(max_length=100)]
MonthQuery = Annotated[str, Query(max_length=7)]
# The API's bounds (api/deps.Limit, Offset): a page and its files list the same rows as the API.
LimitQuery = Annotated[int, Query(ge=1, le=200)]
OffsetQuery = Annotated[int, Query(ge=0, le=100_000)]
PAGE_SIZE = 50


@dataclass(frozen=True)
class Asked:
    figure: str
    place: str
    program: str
    month: str
    limit: int
    offset: int

    def query(self, **change: object) -> str:
        values: dict[str, object] = {
            "figure": self.figure,
            "place": self.place,
            "program": self.program,
            "month": self.month,
            **change,
        }
        values["limit"] = values.get("limit", self.limit)
        values["offset"] = values.get("offset", self.offset)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


@dataclass
class Listed:
    where: figures.Scope
    month: date | None
    found: dict[str, Any]
    table: tables.Table
    shown: Asked


def _day(value: object) -> date | None:
    """The Shanghai date a case counted on (the trail and the live tables keep UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(metrics.SHANGHAI).date()


async def _list(conn: AsyncConnection, me: Me, asked: Asked) -> Listed:
    # The API's checks in the API's order: the month, the place and program, then the figure.
    require_reader(me)
    month = figures.parse_month(asked.month.strip() or None)
    where = await figures.scope(
        conn, me.principal, asked.place.strip() or None, asked.program.strip() or None, month, month
    )
    found = await cases.behind(
        conn, me.principal, where, asked.figure, month, limit=asked.limit, offset=asked.offset
    )
    items: list[dict[str, Any]] = found["items"]
    names = {p["key"]: p["name"] for p in await definitions.list_latest(conn)}
    places = await divisions.lookup(conn, [str(i["division_code"]) for i in items])
    rows: list[dict[str, object]] = [
        {
            "number": i["number"],
            "applicant_name": i["applicant_name"],
            "applicant_id_number": i["applicant_id_number"],
            "program": names.get(i["program"], i["program"]),
            "division_code": i["division_code"],
            "place": str(places.get(str(i["division_code"]), {}).get("name", "")),
            "status": labels.STATUSES.get(i["status"], i["status"]),
            "counted_on": _day(i["counted_at"]),
        }
        for i in items
    ]
    table = tables.cases_table(asked.figure, rows, [f"/ui/cases/{i['id']}" for i in items])
    # What is shown, spelled as the API was asked: the place resolved, a month only where it counts.
    shown = Asked(
        asked.figure,
        where.code,
        where.program or "",
        f"{month:%Y-%m}" if month and asked.figure in cases.BY_EVENTS else "",
        asked.limit,
        asked.offset,
    )
    return Listed(where, month, found, table, shown)


def _heading(listed: Listed, program_name: str) -> str:
    figure = ALL_HEADERS.get(listed.shown.figure, listed.shown.figure)
    when = (
        f"{listed.month.year}年{listed.month.month}月"
        if listed.month and listed.shown.figure in cases.BY_EVENTS
        else "当前"
    )
    return f"{figure}：{listed.where.name} · {program_name} · {when}"


async def _context(conn: AsyncConnection, me: Me, asked: Asked) -> dict[str, Any]:
    listed = await _list(conn, me, asked)
    where, shown, found = listed.where, listed.shown, listed.found
    names = {p["key"]: p["name"] for p in await definitions.list_latest(conn)}
    program_name = names.get(where.program, where.program) if where.program else "全部业务"
    month = listed.month or where.last_month
    back = {
        "place": where.code,
        "program": where.program or "",
        "from": f"{month:%Y-%m}",
        "to": f"{month:%Y-%m}",
    }
    return {
        "where": where,
        "heading": _heading(listed, program_name),
        "table": listed.table,
        "query": shown.query(),
        "first": shown.offset + 1,
        "previous": shown.query(offset=max(0, shown.offset - shown.limit)) if shown.offset else "",
        "following": shown.query(offset=shown.offset + shown.limit) if found["has_more"] else "",
        "back": urlencode({k: v for k, v in back.items() if v}),
    }


def _asked(
    figure: FigureQuery = "",
    place: PlaceQuery = "",
    program: ProgramQuery = "",
    month: MonthQuery = "",
    limit: LimitQuery = PAGE_SIZE,
    offset: OffsetQuery = 0,
) -> Asked:
    return Asked(figure.strip(), place, program, month, limit, offset)


# The page and its two files take the same six query parameters.
AskedQuery = Annotated[Asked, Depends(_asked)]


@router.get("/reports/cases")
async def show(ctx: WebCtx, asked: AskedQuery):
    async with ctx.begin() as (conn, me):
        context = await _context(conn, me, asked)
    return page(ctx.request, "report_cases.html", me=me, csrf=ctx.csrf, nav="reports", **context)


async def _download(ctx: WebCtx, asked: Asked, xlsx: bool) -> Response:
    async with ctx.begin() as (conn, me):
        listed = await _list(conn, me, asked)
    where, shown = listed.where, listed.shown
    name = f"cases-{shown.figure}-{where.code}-{shown.month.replace('-', '') or 'now'}-{shown.offset + 1}"
    return report_files.download([listed.table], name, xlsx=xlsx)


@router.get("/reports/cases.csv")
async def csv_file(ctx: WebCtx, asked: AskedQuery):
    return await _download(ctx, asked, xlsx=False)


@router.get("/reports/cases.xlsx")
async def xlsx_file(ctx: WebCtx, asked: AskedQuery):
    return await _download(ctx, asked, xlsx=True)
