"""The supervision page (/ui/supervision, county and above): overdue and due-soon work per place, the
overdue list as a spreadsheet, and 催办 of the selected overdue tasks (each the same audited
``tasks.people.urge`` as the REST route and the task page, in its own transaction)."""

from urllib.parse import urlencode

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from app.api import workbooks
from app.domain.cases import lookup
from app.domain.errors import DomainError, Forbidden
from app.domain.people import directory, divisions
from app.domain.tasks import people as task_people
from app.domain.tasks import supervision
from app.web import labels
from app.web.context import Me, WebCtx
from app.web.render import flash, page
from app.web.routes.inbox import case_number

router = APIRouter()
DUE_SOON_WORKING_DAYS = 2
MAX_URGE = 200  # the overdue table's rows


def _require_supervisor(me: Me) -> None:
    if not me.is_supervisor:
        raise Forbidden("not_a_supervisor", "supervision needs a county-level role or above")


@router.get("/supervision")
async def show(ctx: WebCtx, division_code: str | None = None):
    async with ctx.begin() as (conn, me):
        _require_supervisor(me)
        error = ""
        try:
            late = await supervision.overdue(conn, me.principal, division_code or None)
            soon = await supervision.due_soon(
                conn, me.principal, division_code or None, DUE_SOON_WORKING_DAYS
            )
        except DomainError as exc:
            late = soon = {"total": 0, "by_division": [], "items": []}
            error = labels.problem(exc)
        items = late["items"] + soon["items"]
        people = await lookup.applicants(conn, [t["application_id"] for t in items])
        places = await divisions.lookup(conn, [t["division_code"] for t in items])
        options = await divisions.visible_to(conn, me.principal)
        handlers = directory.Directory()  # people, not logins: 张伟（濉溪镇民政）
        await handlers.load(conn, (t["assignee"] for t in items))
    for t in items:  # supervisors read names masked: the work is not theirs to do
        t["applicant"] = (people.get(t["application_id"]) or {}).get("name", "")
        t["place"] = places.get(t["division_code"], {}).get("name", t["division_code"])
        t["case_number"] = case_number(t)
        t["assignee_text"] = handlers.text(t["assignee"])
    return page(
        ctx.request,
        "supervision.html",
        me=me,
        csrf=ctx.csrf,
        nav="supervision",
        late=late,
        soon=soon,
        places=options,
        division_code=division_code or "",
        error=error,
        soon_days=DUE_SOON_WORKING_DAYS,
    )


@router.get("/supervision/overdue.xlsx")
async def export(ctx: WebCtx, division_code: str | None = None):
    """The overdue list as an XLSX workbook, the same as GET /api/v1/supervision/overdue.xlsx."""
    async with ctx.begin() as (conn, me):
        _require_supervisor(me)
        result, places, programs = await supervision.overdue_export(conn, me.principal, division_code or None)
    return Response(
        workbooks.overdue_workbook(result, places, programs),
        media_type=workbooks.MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{workbooks.FILENAME}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/supervision/urge")
async def urge(ctx: WebCtx):
    """催办 of the ticked overdue tasks: each one as on its task page (same rules, same audit event)."""
    form = await ctx.form()
    chosen = list(dict.fromkeys(str(i) for i in form.getlist("task_id")))[:MAX_URGE]
    division_code = str(form.get("division_code", "")).strip()
    async with ctx.begin() as (_, me):
        _require_supervisor(me)
    body: task_people.UrgeIn | None
    try:
        body = task_people.UrgeIn(note=str(form.get("note", "")).strip() or None)
    except ValidationError:
        body = None
    urged, refused = 0, dict[str, int]()  # refusal message → how many
    for task_id in chosen if body is not None else []:
        assert body is not None
        try:
            async with ctx.begin() as (conn, me):
                await task_people.urge(conn, me.principal, task_id, body)
            urged += 1
        except DomainError as exc:
            message = labels.problem(exc)
            refused[message] = refused.get(message, 0) + 1
    if body is None:
        said = "催办说明不能超过2000字。"
    elif not chosen:
        said = labels.error("no_overdue_selected")
    else:
        said = f"已催办{urged}件。" + "".join(f"{n}件未催办：{m}" for m, n in refused.items())
    query = {"division_code": division_code} if division_code else {}
    return RedirectResponse(
        "/ui/supervision?" + urlencode({**query, **flash(ctx.request, said)}), status_code=303
    )
