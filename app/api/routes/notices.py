from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from app import diagrams
from app.api import sheets
from app.api.deps import Ctx
from app.api.routes.public import notice_with_entries
from app.domain.cases import applications
from app.domain.notices import objections
from app.domain.programs import definitions

router = APIRouter(tags=["notices"])


@router.get("/notices/{notice_id}/sheet", response_class=HTMLResponse)
async def sheet(ctx: Ctx, notice_id: str) -> HTMLResponse:
    """The A4 board sheet a village official prints and pins up."""
    async with ctx.begin() as (conn, _):
        view, program_name = await notice_with_entries(conn, notice_id, ctx.settings.public_base_url)
    return HTMLResponse(sheets.render(view, program_name))


@router.get("/applications/{application_id}/objections")
async def of_application(ctx: Ctx, application_id: str) -> list[dict]:
    async with ctx.begin() as (conn, me):
        row = await applications.load_row(conn, me, application_id)
        return await objections.of_application(conn, row["id"])


@router.get("/applications/{application_id}/diagram.svg", response_class=Response)
async def application_diagram(ctx: Ctx, application_id: str) -> Response:
    """The version the case runs on, with completed steps and the current position highlighted."""
    async with ctx.begin() as (conn, me):
        app = await applications.load_row(conn, me, application_id)
        xml = await definitions.xml_of(conn, app["program"], app["definition_version"])
        svg = await diagrams.of_application(conn, app["id"], xml)
    return Response(svg, media_type="image/svg+xml")
