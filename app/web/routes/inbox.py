"""The inbox (/ui/): tabs with counts, filters, saved views, claim and bulk claim."""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from app import clock
from app.api.deps import Offset, RowId
from app.domain.cases import briefs, search
from app.domain.errors import DomainError
from app.domain.people import divisions
from app.domain.people.directory import Directory
from app.domain.programs import definitions
from app.domain.tasks import held, saved_views
from app.domain.tasks import worklist as tasks
from app.domain.timekeeping import calendar
from app.domain.timekeeping.calendar import WorkingDays
from app.web import capabilities, labels, schema_form
from app.web.context import WebCtx
from app.web.render import flash, page

router = APIRouter()
PAGE_SIZE = 50
COUNT_CAP = 1000
# Tabs whose rows show where their case stands now: a step I decided, a case I submitted.
STATUS_SCOPES = ("done", "started")
SORTS = {
    "due_at": "期限由近到远",
    "-due_at": "期限由远到近",
    "-created_at": "最新到达",
    "-completed_at": "最近办结",
}


def case_number(task: dict) -> str:
    """The case's number; a case from before numbers were given shows the beginning of its id."""
    return task.get("case_number") or task["application_id"][:8].upper()


def _filters(params) -> dict:
    scope = params.get("scope") or "candidate"
    return {
        "scope": scope if scope in capabilities.inbox_scopes() else "candidate",
        "program": params.get("program") or None,
        "division_code": params.get("division_code") or None,
        "overdue": True if params.get("overdue") == "1" else None,
        "q": (params.get("q") or "").strip()[: search.MAX_LENGTH] or None,
        "sort": params.get("sort")
        if params.get("sort") in SORTS
        else ("-completed_at" if scope == "done" else "due_at"),
    }


def _query(filters: dict, **change) -> str:
    merged = {**filters, **change}
    return urlencode({k: ("1" if v is True else v) for k, v in merged.items() if v not in (None, "", False)})


# Tabs whose every row is a step that waits for the viewer or a case copied to the viewer.
PERSONAL_SCOPES = ("mine", "cc")


async def _rows(conn, me, items: list[dict], scope: str) -> list[dict]:
    """Inbox rows with applicant (masked unless the viewer may act on the step), who submitted the
    case, place names, working days since the step arrived and, in 已办 and 我发起的, where the case
    stands now."""
    cases = await briefs.of_cases(
        conn, [t["application_id"] for t in items], with_steps=scope in STATUS_SCOPES
    )
    places = await divisions.lookup(conn, [t["division_code"] for t in items])
    people = Directory()
    await people.load(conn, [c.submitted_by for c in cases.values()])
    days = await calendar.load(conn) if items else None
    rows = []
    for task in items:
        case = cases.get(task["application_id"])
        place = places.get(task["division_code"], {"name": "", "path": "/"})
        # Who may act on the step reads the name in full, and so does whoever the step waits for (我的待办:
        # held, delegated, to sign) or the case was copied to (抄送我的), as the case's privacy rule says;
        # supervisors and other departments see 张*.
        full = scope in PERSONAL_SCOPES or me.principal.can_act(task["role"], place["path"])
        name = case.applicant_name if case else ""
        rows.append(
            {
                **task,
                "case_number": case_number(task),
                "place": place["name"],
                "applicant_name": name if full else None,
                "applicant_masked": name,
                "id_number": case.applicant_id_number if case else None,
                "submitter": people.text(case.submitted_by) if case else "",
                "working_days": _working_days(days, task),
                "case_status": _case_status(case) if case and scope in STATUS_SCOPES else "",
            }
        )
    return rows


def _working_days(days: WorkingDays | None, task: dict) -> int | None:
    """Working days from the step's arrival to its completion, or to today while it is open."""
    if days is None:
        return None
    end = task["completed_at"] if task["state"] != "open" and task["completed_at"] else clock.now()
    arrived = task["created_at"].astimezone(calendar.SHANGHAI).date()
    return days.count(arrived, end.astimezone(calendar.SHANGHAI).date()).value


def _case_status(case: briefs.CaseBrief) -> str:
    """The case's current step(s) while it runs, else how it ended."""
    if case.status == "in_progress" and case.current_steps:
        return "、".join(case.current_steps)
    return labels.STATUSES.get(case.status, case.status)


async def _bulk_groups(conn, me) -> list[dict]:
    """Steps with two or more of my claimed tasks whose form allows one shared decision."""
    groups = []
    for group in await held.mine_by_step(conn, me.principal):
        if group["count"] < 2:
            continue
        definition = await definitions.latest(conn, group["program"])
        if (
            group["name"] in definition.model.steps
            and schema_form.bulk_fields(definition.form_for_step(group["name"])) is not None
        ):
            groups.append({**group, "program_name": definition.name})
    return groups


@router.get("/")
async def inbox(ctx: WebCtx, offset: Offset = 0):
    filters = _filters(ctx.request.query_params)
    offset = max(0, min(offset, 100_000))
    async with ctx.begin() as (conn, me):
        try:
            result: dict[str, Any] = {"items": [], "has_more": False}
            if capabilities.scope_supported(filters["scope"]):
                result = await tasks.inbox(
                    conn,
                    me.principal,
                    scope=filters["scope"],
                    program=filters["program"],
                    division_code=filters["division_code"],
                    overdue=filters["overdue"],
                    state="open" if filters["scope"] == "all" else None,
                    limit=PAGE_SIZE,
                    offset=offset,
                    sort=filters["sort"],
                    q=filters["q"],
                )
            # Per tab, whatever the filters; the template shows "1000+" from COUNT_CAP on.
            counts = await tasks.counts(conn, me.principal, cap=COUNT_CAP)
            error = ""
        except DomainError as exc:  # e.g. an unknown place typed into the URL: show the inbox, say why
            result, counts, error = {"items": [], "has_more": False}, {}, labels.problem(exc)
        rows = await _rows(conn, me, result["items"], filters["scope"])
        programs = await definitions.list_latest(conn)
        places = await divisions.visible_to(conn, me.principal)
        views = await saved_views.list_(conn, me.name)
        bulk = await _bulk_groups(conn, me) if filters["scope"] == "mine" else []
    tabs = [
        {
            "scope": s,
            "label": labels.SCOPES[s],
            "count": counts.get(s),
            "supported": capabilities.scope_supported(s),
            "href": "/ui/?" + _query(filters, scope=s, sort=None),
        }
        for s in capabilities.inbox_scopes()
    ]
    return page(
        ctx.request,
        "inbox.html",
        me=me,
        csrf=ctx.csrf,
        nav="inbox",
        filters=filters,
        tabs=tabs,
        rows=rows,
        programs={p["key"]: p["name"] for p in programs},
        places=places,
        sorts=SORTS,
        views=views,
        bulk=bulk,
        error=error,
        offset=offset,
        has_more=result["has_more"],
        page_size=PAGE_SIZE,
        query=_query(filters),
        query_for=lambda **c: _query(filters, **c),
    )


@router.post("/tasks/claim")
async def bulk_claim(ctx: WebCtx):
    """认领 one or many: each claim is its own transaction, so one taken task stops no other."""
    form = await ctx.form()
    # A row's own 认领 button sends "one"; 认领所选 sends the ticked rows.
    ids = [str(form["one"])] if form.get("one") else [str(i) for i in form.getlist("task_id")][:PAGE_SIZE]
    back = str(form.get("back", ""))
    async with ctx.begin():  # the session is checked before anything is claimed
        pass
    claimed, failed = 0, []
    for task_id in ids:
        try:
            async with ctx.begin() as (conn, me):
                await tasks.claim(conn, me.principal, task_id)
            claimed += 1
        except DomainError as exc:
            failed.append(labels.problem(exc))
    if len(ids) == 1 and not failed:
        return RedirectResponse(f"/ui/tasks/{ids[0]}", status_code=303)
    msg = f"已认领{claimed}件" if ids else "请先勾选要认领的任务"
    if failed:
        msg += f"，{len(failed)}件未能认领：" + "；".join(sorted(set(failed)))
    return RedirectResponse(
        "/ui/?" + (back + "&" if back else "") + urlencode({**flash(ctx.request, msg)}), status_code=303
    )


@router.post("/views")
async def save_view(ctx: WebCtx):
    form = await ctx.form()
    query = {k: form.get(k) for k in saved_views.KEYS}
    try:
        async with ctx.begin() as (conn, me):
            await saved_views.save(conn, me.name, str(form.get("name", "")), query)
        msg = "视图已保存"
    except DomainError as exc:
        msg = labels.problem(exc)
    return RedirectResponse(
        "/ui/?" + urlencode({**saved_views.clean(query), **flash(ctx.request, msg)}), status_code=303
    )


@router.post("/views/{view_id}/delete")
async def delete_view(ctx: WebCtx, view_id: RowId):
    await ctx.form()
    async with ctx.begin() as (conn, me):
        await saved_views.delete(conn, me.name, view_id)
    return RedirectResponse("/ui/?" + urlencode({**flash(ctx.request, "视图已删除")}), status_code=303)
