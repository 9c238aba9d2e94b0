"""Public pages without login (/ui/public/…): open notices, objecting, following an objection.

They call the same domain services as ``/api/v1/public`` (entries hold only masked public data),
share its per-address rate limit, and protect the form with a CSRF token bound to a cookie.
"""

import base64
import hashlib
import hmac
import json

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app.api import sheets
from app.api.routes.public import notice_with_entries
from app.domain.errors import DomainError, TooMany
from app.domain.notices import entries as notices
from app.domain.notices import objections
from app.domain.people import divisions, rate_limits
from app.web import drafts, labels
from app.web.context import WebCtx
from app.web.render import page

router = APIRouter()
RECEIPT_COOKIE, RECEIPT_PATH = "aidflow_objection_receipt", "/ui/public/objections/receipt"
FIELD_MESSAGES = {
    "reason": "异议理由须为5至2000字",
    "entry_id": "请选择异议对象的公示序号",
    "name": "姓名不能超过100字",
    "contact": "联系方式不能超过200字",
}
RAW_LENGTHS = {"entry_id": 36, "reason": 2000, "name": 100, "contact": 200}


@router.get("/notices")
async def list_notices(ctx: WebCtx, division_code: str | None = None):
    async with ctx.begin_anonymous() as conn:
        places = [
            d
            for d in await divisions.list_all(conn)
            if d["level"] in ("county", "township", "village", "school", "kindergarten")
        ]
        try:
            found, error = await notices.list_open(conn, division_code or None), ""
        except DomainError as exc:
            found, error = [], labels.problem(exc)
    return page(
        ctx.request,
        "public_notices.html",
        notices=found,
        places=places,
        division_code=division_code or "",
        error=error,
    )


async def _notice_page(ctx, notice_id: str, status: int = 200, **extra):
    async with ctx.begin_anonymous() as conn:
        view, program_name = await notice_with_entries(conn, notice_id, ctx.settings.public_base_url)
    extra.setdefault("errors", {})
    extra.setdefault("raw", {})
    # The columns the entries have (a children's notice shows entry numbers only), as on the A4 sheet.
    columns = [
        (k, label)
        for k, label in sheets.COLUMNS.items()
        if any(e.get(k) is not None or k in e.get("data_withheld", ()) for e in view["entries"])
    ]
    response = page(
        ctx.request,
        "public_notice.html",
        status,
        notice=view,
        program_name=program_name,
        csrf=ctx.anon_csrf(),
        columns=columns,
        decisions=sheets.DECISIONS,
        **extra,
    )
    return ctx.set_anon_cookie(response)


@router.get("/notices/{notice_id}")
async def show_notice(ctx: WebCtx, notice_id: str):
    async with ctx.begin_anonymous() as conn:
        draft = await drafts.recall(ctx, conn)  # a refused objection: what was typed and why
    status = drafts.status(draft)
    draft.pop("status", None)
    retry_after = draft.pop("retry_after", None)
    response = await _notice_page(ctx, notice_id, status, **draft)
    if retry_after is not None:  # the same header the API sends, so browsers and proxies back off
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get("/notices/{notice_id}/sheet")
async def sheet(ctx: WebCtx, notice_id: str):
    async with ctx.begin_anonymous() as conn:
        view, program_name = await notice_with_entries(conn, notice_id, ctx.settings.public_base_url)
    return HTMLResponse(sheets.render(view, program_name))


@router.post("/notices/{notice_id}/objections")
async def object_to(ctx: WebCtx, notice_id: str):
    form = await ctx.form()
    entered = {k: str(form.get(k, "")).strip() for k in RAW_LENGTHS}
    # What was typed comes back on a refused form, no longer than its field may be.
    raw = {k: v[: RAW_LENGTHS[k]] for k, v in entered.items()}
    address = ctx.request.client.host if ctx.request.client else None
    try:
        # Every post counts, refused ones too: nothing of a client past its allowance is kept.
        async with ctx.begin_anonymous() as conn:
            await rate_limits.hit(conn, "objection", address, ctx.request.app.state.objection_rate_limit)
        try:
            body = objections.ObjectionIn(
                **{k: v for k, v in entered.items() if v or k in ("entry_id", "reason")}
            )
        except ValidationError as exc:
            errors = {
                str(e["loc"][0]): FIELD_MESSAGES.get(str(e["loc"][0]), "填写不正确") for e in exc.errors()
            }
            refused = {"status": 422, "errors": errors, "raw": raw, "error": "请按提示修改后再提交。"}
            return await drafts.redirect(ctx, f"/ui/public/notices/{notice_id}", refused)
        async with ctx.begin_anonymous() as conn:
            receipt = await objections.submit(conn, notice_id, body)
    except TooMany as exc:  # past the allowance nothing this client posts is kept, not even a draft
        return drafts.limited(ctx, f"/ui/public/notices/{notice_id}", exc)
    except DomainError as exc:
        failed: dict[str, object] = {"status": exc.status, "raw": raw, "error": labels.problem(exc)}
        return await drafts.redirect(ctx, f"/ui/public/notices/{notice_id}", failed)
    # Post/redirect/get: reloading the receipt must not file the objection again. The receipt rides
    # in a signed cookie of this browser only (the check code never goes into a URL or a log).
    response = RedirectResponse("/ui/public/objections/receipt", status_code=303)
    response.set_cookie(
        RECEIPT_COOKIE,
        _sign(
            ctx, {"number": receipt["number"], "check_code": receipt["check_code"], "notice_id": notice_id}
        ),
        max_age=1800,
        httponly=True,
        samesite="lax",
        secure=ctx.secure,
        path=RECEIPT_PATH,
    )
    return response


@router.get("/objections/receipt")
async def receipt_page(ctx: WebCtx):
    receipt = _unsign(ctx, ctx.request.cookies.get(RECEIPT_COOKIE, ""))
    return page(
        ctx.request,
        "public_receipt.html",
        200 if receipt else 404,
        receipt=receipt,
        notice_id=(receipt or {}).get("notice_id", ""),
    )


def _signature(ctx, body: str) -> str:
    return hmac.new(
        ctx.settings.signing_key.encode(), b"receipt:" + body.encode(), hashlib.sha256
    ).hexdigest()


def _sign(ctx, receipt: dict) -> str:
    body = base64.urlsafe_b64encode(json.dumps(receipt).encode()).decode()
    return f"{body}.{_signature(ctx, body)}"


def _unsign(ctx, value: str) -> dict | None:
    body, _, signature = value.partition(".")
    if not body or not hmac.compare_digest(signature, _signature(ctx, body)):
        return None
    return json.loads(base64.urlsafe_b64decode(body.encode()))


@router.get("/objections")
async def follow_form(ctx: WebCtx):
    async with ctx.begin_anonymous() as conn:
        draft = await drafts.recall(ctx, conn)  # the answer to the number and code just posted
    response = page(
        ctx.request,
        "public_objection.html",
        drafts.status(draft),
        result=draft.get("result"),
        error=draft.get("error", ""),
        number=draft.get("number", ""),
        csrf=ctx.anon_csrf(),
    )
    return ctx.set_anon_cookie(response)


@router.post("/objections")
async def follow(ctx: WebCtx):
    """Number and check code come in a POST body, so the code never lands in URLs and access logs; the
    answer is kept as a draft of this browser's for the GET page (reload shows it again)."""
    form = await ctx.form()
    number, code = str(form.get("number", "")).strip()[:32], str(form.get("code", "")).strip()[:64]
    try:
        async with ctx.begin_anonymous() as conn:
            body: dict[str, object] = {
                "result": await objections.follow(conn, number, code),
                "number": number,
            }
    except DomainError as exc:
        body = {"status": 404, "error": labels.problem(exc), "number": number}
    return await drafts.redirect(ctx, "/ui/public/objections", body)
