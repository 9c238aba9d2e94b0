from typing import Annotated

from fastapi import Query

from app.api.deps import Ctx, require_admin
from app.api.routing import api_router
from app.api.schemas import programs as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.cases import rescheduling
from app.domain.timekeeping import calendar

router = api_router(tags=["calendar"], responses=AUTHENTICATED)


@router.get("/calendar/working-days", response_model=out.WorkingDays)
async def working_days(
    ctx: Ctx, start: Annotated[str, Query(alias="from")], add: int | None = None, to: str | None = None
) -> dict:
    """``from`` + ``add`` → the add-th working day after ``from``; ``from`` + ``to`` → working days in (from, to]."""
    async with ctx.begin() as (conn, _):
        return await calendar.answer_query(conn, start, add, to)


@router.get("/calendar/{year}", response_model=out.CalendarYear)
async def get_year(ctx: Ctx, year: str) -> dict:
    async with ctx.begin() as (conn, _):
        return await calendar.get_year(conn, calendar.parse_year(year))


@router.put("/admin/calendar/{year}", response_model=out.StoredCalendarYear)
async def put_year(ctx: Ctx, year: str, body: calendar.YearIn) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        stored = await calendar.store_year(conn, calendar.parse_year(year), body, me.name)
        return {**stored, "recomputed": await rescheduling.recompute_year(conn, stored["year"], me.name)}
