"""POST/redirect/GET for every web form (``domain/people/form_drafts.py`` keeps what a page shows).

A form handler never answers a POST with a page: success redirects (303) to a GET page with a signed
banner (``render.flash``); a refusal keeps the entered values and messages as a draft and redirects
to the form's own GET page with ``?draft=<token>``, which shows them. History then holds only GET
pages: Back after a refused submit shows the page before it (no "confirm form resubmission", no
ERR_CACHE_MISS), and reloading after success files nothing twice.

A visitor without a session (login, objections) can make drafts without logging in, so theirs are
rate-limited per client address and small (``form_drafts.MAX_BYTES_ANONYMOUS``). Past the limit the
redirect keeps nothing and carries ``?limited=<seconds>`` instead, which the page shows as a fixed
"too many" message with that Retry-After: nothing a visitor posts is stored then.
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.errors import TooMany
from app.domain.people import form_drafts, rate_limits
from app.web.context import ANON_COOKIE, WebContext

PARAM = "draft"
LIMITED = "limited"
LIMITED_MESSAGE = "提交过于频繁，请稍后再试。"


def _owner(ctx: WebContext) -> str:
    if ctx.session_token:
        return "session:" + ctx.session_token
    return "anon:" + (ctx.anon_token or ctx.request.cookies.get(ANON_COOKIE) or "")


async def redirect(
    ctx: WebContext, path: str, body: Mapping[str, object], query: Mapping[str, str] | None = None
) -> Response:
    """303 to ``path`` showing ``body`` (``error``, ``errors``, ``raw``… as the page's template takes them)."""
    kept = jsonable_encoder(dict(body))
    if ctx.session_token:
        async with ctx.begin_anonymous() as conn:
            token = await form_drafts.keep(conn, _owner(ctx), path, kept)
        return RedirectResponse(path + "?" + urlencode({**(query or {}), PARAM: token}), status_code=303)
    ctx.anon_csrf()  # a visitor without a cookie gets one, so the draft is theirs alone
    address = ctx.request.client.host if ctx.request.client else None
    try:
        async with ctx.begin_anonymous() as conn:
            await rate_limits.hit(
                conn, "anonymous_form", address, ctx.request.app.state.anonymous_form_rate_limit
            )
            token = await form_drafts.keep(conn, _owner(ctx), path, kept, form_drafts.MAX_BYTES_ANONYMOUS)
        where = {**(query or {}), PARAM: token}
    except TooMany as exc:
        return limited(ctx, path, exc, query)
    return ctx.set_anon_cookie(RedirectResponse(path + "?" + urlencode(where), status_code=303))


def limited(ctx: WebContext, path: str, refusal: TooMany, query: Mapping[str, str] | None = None) -> Response:
    """303 to ``path`` saying "too many, retry in N seconds", keeping nothing."""
    where = {**(query or {}), LIMITED: str(refusal.extra.get("retry_after", 60))}
    return ctx.set_anon_cookie(RedirectResponse(path + "?" + urlencode(where), status_code=303))


def status(draft: Mapping[str, object]) -> int:
    """The HTTP status the kept page answers with: the refusal's (422, 403…), 200 without a draft."""
    value = draft.get("status", 200)
    return value if isinstance(value, int) else 200


async def recall(ctx: WebContext, conn: AsyncConnection) -> dict[str, Any]:
    """The draft this GET page was redirected with, or {} (none, expired, or another browser's); a
    rate-limited visitor's fixed message (no link can make a page say anything else)."""
    token = ctx.request.query_params.get(PARAM)
    found = await form_drafts.recall(conn, token, _owner(ctx), ctx.request.url.path)
    if found:
        return found
    limited = ctx.request.query_params.get(LIMITED, "")
    if limited.isdigit() and not ctx.session_token:
        return {"status": 429, "error": LIMITED_MESSAGE, "retry_after": min(max(int(limited), 1), 86400)}
    return {}
