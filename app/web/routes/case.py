"""The case query (/ui/cases) and the case page (/ui/cases/{id}): summary, open steps, diagram,
notices, objections, approval record, timeline."""

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Response

from app import diagrams
from app.api import sheets
from app.api.routes.public import notice_with_entries
from app.api.svg_responses import svg_response
from app.domain.cases import lookup, privacy
from app.domain.cases import record as approval_record
from app.domain.errors import DomainError
from app.domain.materials import attachments
from app.domain.money import history, ledger
from app.domain.notices import entries as notices
from app.domain.notices import objections
from app.domain.people import divisions
from app.domain.people.directory import Directory
from app.domain.programs import definitions
from app.web import labels
from app.web.context import WebCtx
from app.web.render import page
from app.web.routes.task import opinions

router = APIRouter()


def _event_text(event: dict, steps: dict, directory: Directory) -> str:
    """The event's step and what it says, people named as people (转办 to 李娜（濉溪镇民政）)."""
    data = event["data"] or {}
    step = steps.get(event["task"])
    parts = [step.title] if step else []
    for key in ("opinion", "reason", "objection_number"):
        if data.get(key):
            parts.append(str(data[key]))
    people = [directory.text(login) for login in lookup.people_in(event["type"], data)]
    if event["type"] == "task.transferred" and len(people) == 2:
        parts.append(f"{people[0]} → {people[1]}")
    elif people:
        parts.append("、".join(people))
    return "：".join(parts[:1]) + ("（" + "；".join(parts[1:]) + "）" if len(parts) > 1 else "")


@router.get("/cases")
async def query(
    ctx: WebCtx,
    q: str = "",
    program: str = "",
    status: str = "",
    step: str = "",
    division_code: str = "",
    submitted_from: str = "",
    submitted_to: str = "",
    offset: int = 0,
):
    """案件查询: the API's search over the cases at or below the reviewer's places."""
    filters = {
        "q": q.strip()[:100],
        "program": program[:100],
        "status": status[:20],
        "step": step[:100],
        "division_code": division_code[:32],
        "submitted_from": submitted_from[:10],
        "submitted_to": submitted_to[:10],
    }
    async with ctx.begin() as (conn, me):
        try:
            found = await lookup.list_(
                conn,
                me.principal,
                program=filters["program"] or None,
                division_code=filters["division_code"] or None,
                status=filters["status"] or None,
                limit=50,
                offset=max(0, min(offset, 100_000)),
                q=filters["q"] or None,
                step=filters["step"] or None,
                submitted_from=_date(filters["submitted_from"]),
                submitted_to=_date(filters["submitted_to"]),
            )
            error = ""
        except DomainError as exc:
            found, error = {"items": [], "has_more": False, "offset": 0}, labels.problem(exc)
        programs = await definitions.list_latest(conn)
        places = await divisions.lookup(conn, [c["division_code"] for c in found["items"]])
        choices = await divisions.visible_to(conn, me.principal)
    next_url = "/ui/cases?" + urlencode(
        {**{k: v for k, v in filters.items() if v}, "offset": found["offset"] + 50}
    )
    return page(
        ctx.request,
        "cases.html",
        me=me,
        csrf=ctx.csrf,
        nav="cases",
        found=found,
        filters=filters,
        programs=programs,
        places=places,
        choices=choices,
        statuses=labels.STATUSES,
        error=error,
        next_url=next_url,
    )


def _date(text: str):
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


# 发放记录: a payment's status in words (the API's scheduled / in_batch / paid / failed).
PAYMENT_STATUSES = {"scheduled": "待发放", "in_batch": "已列入批次", "paid": "已发放", "failed": "发放失败"}
BATCH_STATUSES = {"draft": "待提交", "submitted": "待财政审核", "approved": "财政已审核"}


@router.get("/cases/{application_id}")
async def show(ctx: WebCtx, application_id: str, internal: str = ""):
    """The case page. Its timeline is the reviewer's (``lookup.INTERNAL_EVENTS`` left out); an
    administrator may ask for the whole history with ``?internal=1``."""
    async with ctx.begin() as (conn, me):
        # By id or number, with whether the viewer reads the person (cases.privacy): one check.
        row = await lookup.load_row(conn, me.principal, application_id, reading=True)
        application_id, personal = row["id"], bool(row[privacy.READABLE])
        app = await lookup.view_of(conn, row)
        definition = await definitions.by_id(conn, row["definition_id"])
        places = await divisions.lookup(
            conn, [app["division_code"], *(t["division_code"] for t in app["open_tasks"])]
        )
        # Every person on the page is resolved by these two reads (handlers, then the rest).
        directory = Directory()
        record = await approval_record.of_application(
            conn, me.principal, application_id, directory, personal=personal
        )
        show_internal = me.is_admin and internal == "1"
        timeline = await lookup.timeline(
            conn, me.principal, application_id, internal=show_internal, directory=directory, personal=personal
        )
        await directory.load(conn, (t["assignee"] for t in app["open_tasks"]))
        xml = await definitions.xml_of(conn, app["program"], app["definition_version"])
        done_steps, current_steps = await diagrams.progress(conn, application_id)
        can_act = (
            any(
                me.principal.can_act(t["role"], places.get(t["division_code"], {}).get("path", "/"))
                for t in app["open_tasks"]
            )
            or me.is_admin
        )
        return page(
            ctx.request,
            "case.html",
            me=me,
            csrf=ctx.csrf,
            nav="inbox",
            app=app,
            program_name=definition.name,
            place=places,
            can_act=can_act,
            application_form=[],
            timeline=timeline,
            show_internal=show_internal,
            event_text=lambda e: _event_text(e, definition.model.steps, directory),
            person=directory.text,
            opinions=opinions(timeline, definition, directory),
            notice_entries=await notices.entries_of_application(conn, application_id),
            # Objections, benefits and payments speak of the person: not shown to a masked reader.
            personal=personal,
            objections=await objections.of_application(conn, application_id) if personal else [],
            benefits=await ledger.of_application(conn, application_id) if personal else [],
            payments=(await history.of_application(conn, application_id))["payments"] if personal else [],
            payment_statuses=PAYMENT_STATUSES,
            batch_statuses=BATCH_STATUSES,
            record=record,
            materials_panel=await attachments.panel(conn, me.principal, application_id),
            upload_task=None,
            viewer=_viewer(xml, done_steps, current_steps),
        )


def _viewer(xml: str, done: set[str], current: set[str]) -> dict:
    """What the page's bpmn-js viewer shows: the definition and the case's progress on it."""
    return {
        "xml": diagrams.for_viewer(xml),
        "done": sorted(done),
        "current": sorted(current),
        "notice": diagrams.notice_steps(xml),
    }


@router.get("/cases/{application_id}/diagram.svg")
async def diagram(ctx: WebCtx, application_id: str):
    async with ctx.begin() as (conn, me):
        app = await lookup.load_row(conn, me.principal, application_id)
        xml = await definitions.xml_of(conn, app["program"], app["definition_version"])
        svg = await diagrams.of_application(conn, app["id"], xml)
    return svg_response(svg, private=True)


@router.get("/notices/{notice_id}/sheet")
async def sheet(ctx: WebCtx, notice_id: str):
    """The A4 board sheet for staff to print (the same sheet as the API's)."""
    async with ctx.begin() as (conn, _):
        view, program_name = await notice_with_entries(conn, notice_id, ctx.settings.public_base_url)
    return Response(sheets.render(view, program_name), media_type="text/html; charset=utf-8")
