"""银行账户变更 and 发放对账 (/ui/payments/accounts, /ui/payments/reconciliation): the same domain calls
as /api/v1/payments/account-changes and /api/v1/payments/reconciliation. Registered before
``payments`` so that these fixed paths are not taken for a batch number."""

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from app import clock
from app.domain.errors import DomainError, Invalid
from app.domain.money import bank_accounts, offices, reconciliation
from app.domain.money.vault import Vault
from app.domain.people import divisions
from app.domain.programs import definitions
from app.web import drafts, labels
from app.web.context import WebCtx
from app.web.render import flash, page
from app.web.routes.payments import ITEM_STATUS, STATUS

router = APIRouter(prefix="/payments")
ACCOUNTS = "/ui/payments/accounts"
ACCOUNT_STATUS = {
    "proposed": "待财政确认",
    "confirmed": "已确认",
    "refused": "已退回",
    "superseded": "已被新申请取代",
}
FIGURES = {"scheduled": "应发", "paid": "已发放", "failed": "发放失败", "pending": "待回盘"}
FIELDS = {
    "person_id_number": "身份证号",
    "holder_name": "开户人姓名",
    "bank_name": "开户银行",
    "account_number": "银行账号",
}
SHANGHAI = ZoneInfo("Asia/Shanghai")


@router.get("/accounts")
async def accounts_page(ctx: WebCtx):
    async with ctx.begin() as (conn, me):
        draft = await drafts.recall(ctx, conn)  # a refused proposal, confirmation or refusal: why
        waiting = await bank_accounts.changes(conn, me.principal, "proposed", 100)
        done = {s: await bank_accounts.changes(conn, me.principal, s, 20) for s in ("confirmed", "refused")}
    # Buttons only for who may press them (the domain checks again on every press).
    checker = me.principal.kind == "user" and any(g.role == offices.FINANCE for g in me.principal.grants)
    preparer = me.principal.kind == "user" and any(
        g.role.startswith("county_") and g.role != offices.FINANCE for g in me.principal.grants
    )
    recent = sorted(done["confirmed"] + done["refused"], key=lambda c: c["id"], reverse=True)[:20]
    return page(
        ctx.request,
        "payment_accounts.html",
        status=drafts.status(draft),
        me=me,
        csrf=ctx.csrf,
        nav="payments",
        waiting=waiting,
        recent=recent,
        checker=checker,
        preparer=preparer,
        statuses=ACCOUNT_STATUS,
        error=draft.get("error", ""),
        raw=draft.get("raw", {}),
    )


@router.post("/accounts")
async def propose(ctx: WebCtx):
    form = await ctx.form()
    raw = {key: str(form.get(key, "")).strip() for key in FIELDS}
    settings = ctx.settings
    try:
        try:
            body = bank_accounts.AccountIn(**raw)
        except ValidationError as exc:
            field = str(exc.errors()[0]["loc"][0])
            raise Invalid("validation_error", f"请正确填写{FIELDS.get(field, field)}", field=field) from None
        vault = Vault.from_settings(settings.payment_account_keys, settings.secret_key, settings.env)
        async with ctx.begin() as (conn, me):
            made = await bank_accounts.propose(conn, me.principal, vault, body)
    except DomainError as exc:
        if exc.status == 404:
            raise
        # The account number is not kept in the draft: it would be stored in clear.
        kept = {k: v for k, v in raw.items() if k != "account_number"}
        kept_body = {"status": exc.status, "error": labels.problem(exc, FIELDS), "raw": kept}
        return await drafts.redirect(ctx, ACCOUNTS, kept_body)
    message = f"已申请变更银行账号（尾号{made['account_masked'][-4:]}），待县级财政部门确认"
    return RedirectResponse(ACCOUNTS + "?" + urlencode(flash(ctx.request, message)), status_code=303)


_ACTIONS = {"confirm": "已确认银行账号变更", "refuse": "已退回银行账号变更"}


@router.post("/accounts/{account_id}/{action}")
async def act(ctx: WebCtx, account_id: int, action: str):
    form = await ctx.form()
    try:
        async with ctx.begin() as (conn, me):
            if action == "confirm":
                await bank_accounts.confirm(conn, me.principal, account_id)
            elif action == "refuse":
                await bank_accounts.refuse(conn, me.principal, account_id, str(form.get("reason", "")))
            else:
                raise Invalid("unknown_action", f"no account action {action!r}")
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await drafts.redirect(ctx, ACCOUNTS, {"status": exc.status, "error": labels.problem(exc)})
    return RedirectResponse(ACCOUNTS + "?" + urlencode(flash(ctx.request, _ACTIONS[action])), status_code=303)


def _counties(ctx_me) -> list[str]:
    return sorted(
        {g.division_code for g in ctx_me.grants if g.division_code and g.role.startswith("county_")}
    )


@router.get("/reconciliation")
async def reconciliation_page(ctx: WebCtx, county: str = "", month: str = "", program: str = ""):
    async with ctx.begin() as (conn, me):
        counties = _counties(me.principal)
        county = county or (counties[0] if counties else "")
        month = month or clock.now().astimezone(SHANGHAI).strftime("%Y-%m")
        programs = {d["key"]: d["name"] for d in await definitions.list_latest(conn)}
        places = await divisions.lookup(conn, [*counties, county])
        # A refusal (another county, a stranger, a bad month) is the usual problem page.
        found = await reconciliation.summary(conn, me.principal, county, month, program or None)
    return page(
        ctx.request,
        "payment_reconciliation.html",
        me=me,
        nav="payments",
        r=found,
        counties=counties,
        place_names={code: place["name"] for code, place in places.items()},
        programs=programs,
        figures=FIGURES,
        statuses=STATUS,
        base={"county": county, "month": month, **({"program": program} if program else {})},
    )


@router.get("/reconciliation/items")
async def reconciliation_items(
    ctx: WebCtx,
    county: str,
    month: str,
    status: str = "scheduled",
    program: str = "",
    batch_id: int | None = None,
    division_code: str = "",
):
    async with ctx.begin() as (conn, me):
        rows = await reconciliation.items(
            conn,
            me.principal,
            county,
            month,
            program or None,
            status,
            batch_id,
            division_code or None,
            0,
            1000,
        )
        programs = {d["key"]: d["name"] for d in await definitions.list_latest(conn)}
        places = await divisions.lookup(conn, [county] + ([division_code] if division_code else []))
    names = {code: place["name"] for code, place in places.items()}
    back = {"county": county, "month": month, **({"program": program} if program else {})}
    return page(
        ctx.request,
        "payment_reconciliation_items.html",
        me=me,
        nav="payments",
        items=rows,
        figure=FIGURES[status],
        county_name=names.get(county, county),
        place_name=names.get(division_code, "") if division_code else "",
        batch_id=batch_id,
        month=month,
        programs=programs,
        item_statuses=ITEM_STATUS,
        back="/ui/payments/reconciliation?" + urlencode(back),
    )
