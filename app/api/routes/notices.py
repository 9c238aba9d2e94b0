from fastapi import Response
from fastapi.responses import HTMLResponse

from app import diagrams
from app.api import sheets
from app.api.deps import Ctx
from app.api.routes.public import notice_with_entries
from app.api.routing import api_router
from app.api.schemas import cases as out
from app.api.schemas.problems import AUTHENTICATED
from app.api.svg_responses import svg_response
from app.domain.cases import lookup, privacy
from app.domain.notices import objections
from app.domain.people import directory
from app.domain.programs import definitions

router = api_router(tags=["notices"], responses=AUTHENTICATED)


@router.get(
    "/notices/{notice_id}/sheet",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "HTML"}},
)
async def sheet(ctx: Ctx, notice_id: str) -> HTMLResponse:
    """The A4 board sheet a village official prints and pins up."""
    async with ctx.begin() as (conn, _):
        view, program_name = await notice_with_entries(conn, notice_id, ctx.settings.public_base_url)
    return HTMLResponse(sheets.render(view, program_name))


@router.get("/applications/{application_id}/objections", response_model=list[out.Objection])
async def of_application(ctx: Ctx, application_id: str) -> list[dict]:
    async with ctx.begin() as (conn, me):
        # The objector's reason and contact, the reply: the person's, as benefits are (403 when masked).
        row = await lookup.load_row(conn, me, application_id, reading=True)
        privacy.require(row[privacy.READABLE])
        found = await objections.of_application(conn, row["id"])
        return await directory.add_displays_to_all(conn, found, ("answered_by",))


@router.get(
    "/applications/{application_id}/diagram.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "SVG"}},
)
async def application_diagram(ctx: Ctx, application_id: str) -> Response:
    """The version the case runs on, with completed steps and the current position highlighted."""
    async with ctx.begin() as (conn, me):
        app = await lookup.load_row(conn, me, application_id)
        xml = await definitions.xml_of(conn, app["program"], app["definition_version"])
        svg = await diagrams.of_application(conn, app["id"], xml)
    return svg_response(svg, private=True)
