"""Program settings (limits, ratios, fund multiples) per place, review panels, and the benefits ledger."""

from typing import Annotated

from fastapi import Query

from app.api.deps import Ctx, Limit, SchoolYear
from app.api.routing import api_router
from app.api.schemas import cases as case_out
from app.api.schemas import programs as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.cases import privacy
from app.domain.errors import Invalid
from app.domain.money import ledger
from app.domain.people import id_numbers
from app.domain.programs import definitions
from app.domain.programs import settings as program_settings
from app.domain.tasks import panels

router = api_router(tags=["programs"], responses=AUTHENTICATED)


@router.get("/programs/{key}/settings", response_model=out.Settings)
async def get_settings(ctx: Ctx, key: str, division_code: str | None = None) -> dict:
    """The values in force at a place (or country-wide), each with where it comes from."""
    async with ctx.begin() as (conn, _):
        return await program_settings.view(conn, await definitions.latest(conn, key), division_code)


@router.get("/programs/{key}/settings/history", response_model=list[out.SettingChange])
async def settings_history(
    ctx: Ctx,
    key: str,
    division_code: str | None = None,
    limit: Limit = 100,
    before_id: int | None = Query(None, ge=1, le=2**62),
) -> list[dict]:
    """Who changed the values in force at a place (its own and its ancestors'), when, old and new; newest
    first. Readable by whoever may read the settings."""
    async with ctx.begin() as (conn, _):
        return await program_settings.history(
            conn, await definitions.latest(conn, key), division_code, before_id, limit
        )


@router.put("/programs/{key}/settings", response_model=out.Settings)
async def put_settings(
    ctx: Ctx, key: str, body: program_settings.SettingsIn, division_code: str | None = None
) -> dict:
    """Replace a place's own values (no ``division_code``: the country-wide values); new cases take them.
    Only the program's own department at that place (or an administrator), at a level the setting's
    ``setting_authority`` allows, and never less strict than a value set above."""
    async with ctx.begin() as (conn, me):
        return await program_settings.put(conn, me, await definitions.latest(conn, key), division_code, body)


@router.get("/benefits", response_model=list[case_out.Benefit])
async def benefits_of_person(
    ctx: Ctx, id_number: Annotated[str, Query(min_length=18, max_length=18)]
) -> list[dict]:
    """A person's ledger entries in the places the caller sees, of the cases it reads in full."""
    if not id_numbers.is_valid(id_number):
        raise Invalid("invalid_id_number", "id_number is not a valid 18-character resident ID number")
    async with ctx.begin() as (conn, me):
        readable = await privacy.condition(conn, me)
        return await ledger.of_person(conn, me.visible, id_number, readable)


@router.put("/panels/{division_code}/{school_year}", response_model=out.Panel)
async def put_panel(ctx: Ctx, division_code: str, school_year: SchoolYear, body: panels.PanelIn) -> dict:
    """Register an institution's review panel for a school year (at least five: head, staff, parents)."""
    async with ctx.begin() as (conn, me):
        return await panels.put(conn, me, division_code, school_year, body)


@router.get("/panels/{division_code}/{school_year}", response_model=out.Panel)
async def get_panel(ctx: Ctx, division_code: str, school_year: SchoolYear) -> dict:
    async with ctx.begin() as (conn, me):
        return await panels.read(conn, me, division_code, school_year)
