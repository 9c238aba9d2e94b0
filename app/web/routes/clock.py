"""Letting time pass in a demo (/ui/admin/clock): the service clock moved forward a day or a week and
whatever fell due in between done at once, so a 7-day notice ends in a click. Only where the clock
may move (AIDFLOW_ENV=demo or test); elsewhere the page does not exist."""

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from app import clock
from app.domain.errors import NotFound
from app.domain.money.batch_schedule import PaySchedule
from app.domain.timekeeping import service_clock
from app.domain.webhooks.deliveries import Policy
from app.web.context import WebCtx, require_admin
from app.web.render import flash, page
from app.worker import run_due_work

router = APIRouter(prefix="/admin/clock")
STEPS = {"1": "一天", "7": "七天"}


def _require_movable(ctx) -> None:
    if not ctx.settings.clock_movable:
        raise NotFound("not_found", "not found")


@router.get("")
async def show(ctx: WebCtx):
    _require_movable(ctx)
    async with ctx.begin() as (conn, me):
        require_admin(me)
        await service_clock.load(conn)
    return page(
        ctx.request,
        "admin_clock.html",
        me=me,
        csrf=ctx.csrf,
        nav="admin",
        now=clock.now(),
        real_now=clock.real_now(),
        steps=STEPS,
    )


@router.post("")
async def advance(ctx: WebCtx):
    _require_movable(ctx)
    form = await ctx.form()
    days = str(form.get("days", ""))
    if days not in STEPS:
        return RedirectResponse("/ui/admin/clock", status_code=303)
    async with ctx.begin() as (conn, me):
        require_admin(me)
        await service_clock.move(conn, advance_seconds=int(days) * 86400, to=None)
    done = await run_due_work(
        ctx.db,
        ctx.settings.claim_stale_working_days,
        webhooks=Policy.from_settings(ctx.settings),
        payments=PaySchedule(ctx.settings.payment_day, ctx.settings.payment_lead_days),
    )
    message = f"时间已前进{STEPS[days]}；到期的计时已处理 {done.fired} 个"
    return RedirectResponse("/ui/admin/clock?" + urlencode(flash(ctx.request, message)), status_code=303)
