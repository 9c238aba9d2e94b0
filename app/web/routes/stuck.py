"""What the worker set aside for an administrator (/ui/admin/stuck): timers whose step failed every
attempt and follow-up cases given up after five refusals, each sent round again with one button once
its cause is fixed — the same domain calls as POST /admin/timers/{id}/retry and
POST /admin/followups/{id}/retry."""

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from app.domain.cases import followups, timers
from app.domain.errors import DomainError
from app.domain.programs import definitions
from app.web import labels
from app.web.context import WebCtx, require_admin
from app.web.render import flash, page

router = APIRouter(prefix="/admin/stuck")
HERE = "/ui/admin/stuck"
# ``last_error`` starts with a problem code, or with the class of an engine or unexpected failure.
FAILURE_KINDS = {
    "EngineError": "计时届满后的环节执行出错（脚本、表达式或流程配置），详见后台日志中的错误编号。",
    "unexpected": "系统内部错误，详见后台日志中的错误编号。",
}


def reason(last_error: str | None) -> str:
    """The failure in words an administrator reads; the technical text stays beside it."""
    head = (last_error or "").split(":", 1)[0].split(" ", 1)[0]
    return labels.ERRORS.get(head) or FAILURE_KINDS.get(head, "")


@router.get("")
async def show(ctx: WebCtx):
    async with ctx.begin() as (conn, me):
        require_admin(me)
        failed_timers = await timers.failed(conn)
        given_up = await followups.failed(conn)
        programs = {d["key"]: d["name"] for d in await definitions.list_latest(conn)}
    return page(
        ctx.request,
        "admin_stuck.html",
        me=me,
        csrf=ctx.csrf,
        nav="admin",
        failed_timers=failed_timers,
        given_up=given_up,
        programs=programs,
        reason=reason,
    )


async def _retry(ctx: WebCtx, retry, row_id: int, done: str) -> RedirectResponse:
    await ctx.form()  # checks the CSRF token
    try:
        async with ctx.begin() as (conn, me):
            require_admin(me)
            await retry(conn, row_id, me.name)
        message = done
    except DomainError as exc:
        if exc.status not in (404, 409):
            raise
        message = labels.problem(exc)  # already retried (another tab, another admin)
    return RedirectResponse(f"{HERE}?" + urlencode(flash(ctx.request, message)), status_code=303)


@router.post("/timers/{timer_id}/retry")
async def retry_timer(ctx: WebCtx, timer_id: int):
    return await _retry(ctx, timers.retry, timer_id, "已重新排入计时，将在下一轮处理")


@router.post("/followups/{followup_id}/retry")
async def retry_followup(ctx: WebCtx, followup_id: int):
    return await _retry(ctx, followups.retry, followup_id, "已重新排入后续案件，将在下一轮启动")
