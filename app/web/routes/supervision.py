"""The supervision page (/ui/supervision, county and above): overdue and due-soon work per place."""

from fastapi import APIRouter

from app.domain.cases import lookup
from app.domain.errors import DomainError, Forbidden
from app.domain.people import divisions
from app.domain.tasks import supervision
from app.web import labels
from app.web.context import WebCtx
from app.web.render import page
from app.web.routes.inbox import case_number

router = APIRouter()
DUE_SOON_WORKING_DAYS = 2


@router.get("/supervision")
async def show(ctx: WebCtx, division_code: str | None = None):
    async with ctx.begin() as (conn, me):
        if not me.is_supervisor:
            raise Forbidden("not_a_supervisor", "supervision needs a county-level role or above")
        error = ""
        try:
            late = await supervision.overdue(conn, me.principal, division_code or None)
            soon = await supervision.due_soon(
                conn, me.principal, division_code or None, DUE_SOON_WORKING_DAYS
            )
        except DomainError as exc:
            late = soon = {"total": 0, "by_division": [], "items": []}
            error = labels.error(exc.code, exc.detail)
        items = late["items"] + soon["items"]
        people = await lookup.applicants(conn, [t["application_id"] for t in items])
        places = await divisions.lookup(conn, [t["division_code"] for t in items])
        options = await divisions.visible_to(conn, me.principal)
    for t in items:  # supervisors read names masked: the work is not theirs to do
        t["applicant"] = (people.get(t["application_id"]) or {}).get("name", "")
        t["place"] = places.get(t["division_code"], {}).get("name", t["division_code"])
        t["case_number"] = case_number(t)
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
