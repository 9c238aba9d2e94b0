"""Reports: figures for a place and the places below it (counts only; the cases behind a number are
listed by ``GET /applications`` with its grants and masking)."""

from datetime import date
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from app.api.deps import Ctx
from app.api.routing import api_router
from app.api.schemas import reports as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.errors import Invalid
from app.domain.reports import figures, tables

router = api_router(prefix="/reports", tags=["reports"], responses=AUTHENTICATED)

MonthQuery = Annotated[
    str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM", examples=["2026-11"])
]
PlaceQuery = Annotated[
    str | None, Query(max_length=32, description="division code; default: the caller's highest place")
]
ProgramQuery = Annotated[str | None, Query(max_length=100)]


def _month(value: str | None) -> date | None:
    if value is None:
        return None
    year, month = int(value[:4]), int(value[5:])
    if not 1 <= month <= 12:
        raise Invalid("invalid_month", "a month is YYYY-MM with MM from 01 to 12")
    return date(year, month, 1)


@router.get("/summary", response_model=out.Summary)
async def summary(
    ctx: Ctx,
    place: PlaceQuery = None,
    program: ProgramQuery = None,
    from_: Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")] = None,
    to: MonthQuery = None,
) -> dict[str, object]:
    """A place's figures over months (default: this year so far), for every program or one."""
    async with ctx.begin() as (conn, me):
        where = await figures.scope(conn, me, place, program, _month(from_), _month(to))
        return await figures.summary(conn, where)


@router.get("/by-place", response_model=out.ByPlace)
async def by_place(
    ctx: Ctx,
    place: PlaceQuery = None,
    program: ProgramQuery = None,
    from_: Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")] = None,
    to: MonthQuery = None,
) -> dict[str, object]:
    """The same figures for each place one level down (drill-down: ask again with one of them)."""
    async with ctx.begin() as (conn, me):
        where = await figures.scope(conn, me, place, program, _month(from_), _month(to))
        return await figures.by_place(conn, where)


@router.get(
    "/by-place.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, UTF-8"}},
)
async def by_place_csv(
    ctx: Ctx,
    place: PlaceQuery = None,
    program: ProgramQuery = None,
    from_: Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")] = None,
    to: MonthQuery = None,
) -> Response:
    """The drill-down as CSV with Chinese headers (the same figures as ``/reports/by-place``)."""
    async with ctx.begin() as (conn, me):
        where = await figures.scope(conn, me, place, program, _month(from_), _month(to))
        report = await figures.by_place(conn, where)
    name = f"report-{where.code}-{where.first_month:%Y%m}-{where.last_month:%Y%m}.csv"
    return Response(
        tables.by_place_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
