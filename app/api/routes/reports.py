"""Reports: figures for a place and the places below it, the steps' times, the programs' monthly
reports, and the masked list of the cases behind a number; every table also as XLSX (and the
drill-down as CSV). docs/reports.md."""

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api import report_workbooks as books
from app.api.deps import Ctx, Limit, Offset
from app.api.routing import api_router
from app.api.schemas import reports as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.people.principal import Principal
from app.domain.reports import cases, figures, monthly, tables

router = api_router(prefix="/reports", tags=["reports"], responses=AUTHENTICATED)

MonthQuery = Annotated[
    str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM", examples=["2026-11"])
]
FromQuery = Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]
PlaceQuery = Annotated[
    str | None, Query(max_length=32, description="division code; default: the caller's highest place")
]
ProgramQuery = Annotated[str | None, Query(max_length=100)]
XLSX: dict[int | str, dict[str, Any]] = {
    200: {"content": {books.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
}


@dataclass(frozen=True)
class Asked:
    """What a report is asked for (place, program, months), before anyone checks who asks."""

    place: str | None
    program: str | None
    first_month: date | None
    last_month: date | None

    async def scope(self, conn: AsyncConnection, me: Principal) -> figures.Scope:
        return await figures.scope(conn, me, self.place, self.program, self.first_month, self.last_month)


def _asked(
    place: PlaceQuery = None, program: ProgramQuery = None, from_: FromQuery = None, to: MonthQuery = None
) -> Asked:
    return Asked(place, program, figures.parse_month(from_), figures.parse_month(to))


# The four query parameters every figure report takes.
AskedQuery = Annotated[Asked, Depends(_asked)]


def _xlsx(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type=books.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _name(kind: str, where: figures.Scope, ext: str) -> str:
    return f"{kind}-{where.code}-{where.first_month:%Y%m}-{where.last_month:%Y%m}.{ext}"


@router.get("/summary", response_model=out.Summary)
async def summary(ctx: Ctx, asked: AskedQuery) -> dict[str, object]:
    """A place's figures over months (default: this year so far), for every program the caller reads or one."""
    async with ctx.begin() as (conn, me):
        return await figures.summary(conn, await asked.scope(conn, me))


@router.get("/summary.xlsx", response_class=Response, responses=XLSX)
async def summary_xlsx(ctx: Ctx, asked: AskedQuery) -> Response:
    """The summary as a workbook: sheet 本级 (the figures) and 环节用时 (the steps)."""
    async with ctx.begin() as (conn, me):
        where = await asked.scope(conn, me)
        report = await figures.summary(conn, where)
    return _xlsx(books.summary_workbook(report), _name("summary", where, "xlsx"))


@router.get("/by-place", response_model=out.ByPlace)
async def by_place(ctx: Ctx, asked: AskedQuery) -> dict[str, object]:
    """The same figures for each place one level down (drill-down: ask again with one of them)."""
    async with ctx.begin() as (conn, me):
        return await figures.by_place(conn, await asked.scope(conn, me))


@router.get(
    "/by-place.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, UTF-8"}},
)
async def by_place_csv(ctx: Ctx, asked: AskedQuery) -> Response:
    """The drill-down as CSV with Chinese headers (the same figures as ``/reports/by-place``)."""
    async with ctx.begin() as (conn, me):
        where = await asked.scope(conn, me)
        report = await figures.by_place(conn, where)
    return Response(
        tables.by_place_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_name("report", where, "csv")}"'},
    )


@router.get("/by-place.xlsx", response_class=Response, responses=XLSX)
async def by_place_xlsx(ctx: Ctx, asked: AskedQuery) -> Response:
    """The drill-down as a workbook, one sheet per level: 本级 (the place), then the places below it."""
    async with ctx.begin() as (conn, me):
        where = await asked.scope(conn, me)
        report = await figures.by_place(conn, where)
        total = await figures.summary(conn, where)
    level = report.get("places_level")
    return _xlsx(
        books.by_place_workbook(total, report, level if isinstance(level, str) else None),
        _name("report", where, "xlsx"),
    )


@router.get("/steps", response_model=out.Steps)
async def steps(ctx: Ctx, asked: AskedQuery) -> dict[str, object]:
    """Per step: done, share on time, working days taken (median, 90th percentile) and their histogram."""
    async with ctx.begin() as (conn, me):
        return await figures.steps(conn, await asked.scope(conn, me))


@router.get("/steps.xlsx", response_class=Response, responses=XLSX)
async def steps_xlsx(ctx: Ctx, asked: AskedQuery) -> Response:
    async with ctx.begin() as (conn, me):
        where = await asked.scope(conn, me)
        report = await figures.steps(conn, where)
    return _xlsx(books.steps_workbook(report), _name("steps", where, "xlsx"))


FigureQuery = Annotated[str, Query(max_length=40, description="a figure: received, approved, in_notice…")]


@router.get("/cases", response_model=out.CasesBehind)
async def cases_behind(
    ctx: Ctx,
    figure: FigureQuery,
    place: PlaceQuery = None,
    program: ProgramQuery = None,
    month: MonthQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, object]:
    """The cases behind a number (masked, newest first): a figure of a month (``month`` required), or
    one of now (``in_notice``, ``enrolments_active``, ``overdue_now``); only cases the caller sees."""
    async with ctx.begin() as (conn, me):
        the_month = figures.parse_month(month)
        where = await figures.scope(conn, me, place, program, the_month, the_month)
        return await cases.behind(conn, me, where, figure, the_month, limit=limit, offset=offset)


@router.get("/cases.xlsx", response_class=Response, responses=XLSX)
async def cases_behind_xlsx(
    ctx: Ctx,
    figure: FigureQuery,
    place: PlaceQuery = None,
    program: ProgramQuery = None,
    month: MonthQuery = None,
    limit: Limit = 200,
    offset: Offset = 0,
) -> Response:
    async with ctx.begin() as (conn, me):
        the_month = figures.parse_month(month)
        where = await figures.scope(conn, me, place, program, the_month, the_month)
        page = await cases.behind(conn, me, where, figure, the_month, limit=limit, offset=offset)
    return _xlsx(books.cases_workbook(page), _name(f"cases-{figure}", where, "xlsx"))


ProgramPath = Annotated[str, Path(max_length=100, pattern=r"^[a-z][a-z0-9_]*$")]


# Before /monthly/{program}: that route would take "dibao.xlsx" for a program's name.
@router.get("/monthly/{program}.xlsx", response_class=Response, responses=XLSX)
async def monthly_report_xlsx(
    ctx: Ctx, program: ProgramPath, place: PlaceQuery = None, month: MonthQuery = None
) -> Response:
    async with ctx.begin() as (conn, me):
        the_month = figures.parse_month(month) or figures.this_month()
        where = await figures.scope(conn, me, place, program, the_month, the_month)
        report = await monthly.report(conn, where)
    return _xlsx(books.monthly_workbook(report), _name(f"monthly-{program}", where, "xlsx"))


@router.get("/monthly/{program}", response_model=out.Monthly)
async def monthly_report(
    ctx: Ctx, program: ProgramPath, place: PlaceQuery = None, month: MonthQuery = None
) -> dict[str, object]:
    """The program's own monthly report for a place (default: this month), with its deadlines."""
    async with ctx.begin() as (conn, me):
        the_month = figures.parse_month(month) or figures.this_month()
        where = await figures.scope(conn, me, place, program, the_month, the_month)
        return await monthly.report(conn, where)
