"""The case page (/ui/cases/{id}): summary, open steps, diagram, notices, objections, timeline."""

from fastapi import APIRouter, Response

from app.api import sheets
from app.api.routes.public import notice_with_entries
from app.domain import applications, approval_record, definitions, diagrams, divisions, ledger, notices
from app.web.context import WebCtx
from app.web.render import page
from app.web.routes.task import opinions

router = APIRouter()


def _event_text(event: dict, steps: dict) -> str:
    data = event["data"] or {}
    step = steps.get(event["task"])
    parts = [step.title] if step else []
    for key in ("opinion", "reason", "assignee", "objection_number"):
        if data.get(key):
            parts.append(str(data[key]))
    return "：".join(parts[:1]) + ("（" + "；".join(parts[1:]) + "）" if len(parts) > 1 else "")


@router.get("/cases/{application_id}")
async def show(ctx: WebCtx, application_id: str):
    async with ctx.begin() as (conn, me):
        app = await applications.get(conn, me.principal, application_id)
        row = await applications.load_row(conn, me.principal, application_id)
        definition = await definitions.by_id(conn, row["definition_id"])
        places = await divisions.lookup(conn, [app["division_code"], *(t["division_code"] for t in app["open_tasks"])])
        timeline = await applications.timeline(conn, me.principal, application_id)
        can_act = any(me.principal.can_act(t["role"], places.get(t["division_code"], {}).get("path", "/"))
                      for t in app["open_tasks"]) or me.is_admin
        return page(ctx.request, "case.html", me=me, csrf=ctx.csrf, nav="inbox", app=app, program_name=definition.name,
                    place=places, can_act=can_act, application_form=[], timeline=timeline,
                    event_text=lambda e: _event_text(e, definition.model.steps),
                    opinions=await opinions(conn, me.principal, application_id, definition),
                    notice_entries=await notices.entries_of_application(conn, application_id),
                    objections=await notices.of_application(conn, application_id),
                    benefits=await ledger.of_application(conn, application_id),
                    record=await approval_record.of_application(conn, me.principal, application_id))


@router.get("/cases/{application_id}/diagram.svg")
async def diagram(ctx: WebCtx, application_id: str):
    async with ctx.begin() as (conn, me):
        app = await applications.load_row(conn, me.principal, application_id)
        xml = await definitions.xml_of(conn, app["program"], app["definition_version"])
        svg = await diagrams.of_application(conn, application_id, xml)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/notices/{notice_id}/sheet")
async def sheet(ctx: WebCtx, notice_id: str):
    """The A4 board sheet for staff to print (the same sheet as the API's)."""
    async with ctx.begin() as (conn, _):
        view, program_name = await notice_with_entries(conn, notice_id, ctx.settings.public_base_url)
    return Response(sheets.render(view, program_name), media_type="text/html; charset=utf-8")
