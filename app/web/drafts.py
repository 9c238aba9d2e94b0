"""POST/redirect/GET for every web form (``domain/people/form_drafts.py`` keeps what a page shows).

A form handler never answers a POST with a page: success redirects (303) to a GET page with a signed
banner (``render.flash``); a refusal keeps the entered values and messages as a draft and redirects
to the form's own GET page with ``?draft=<token>``, which shows them. History then holds only GET
pages: Back after a refused submit shows the page before it (no "confirm form resubmission", no
ERR_CACHE_MISS), and reloading after success files nothing twice.
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.people import form_drafts
from app.web.context import ANON_COOKIE, WebContext

PARAM = "draft"


def _owner(ctx: WebContext) -> str:
    if ctx.session_token:
        return "session:" + ctx.session_token
    return "anon:" + (ctx.anon_token or ctx.request.cookies.get(ANON_COOKIE) or "")


async def redirect(
    ctx: WebContext, path: str, body: Mapping[str, object], query: Mapping[str, str] | None = None
) -> Response:
    """303 to ``path`` showing ``body`` (``error``, ``errors``, ``raw``… as the page's template takes them)."""
    if not ctx.session_token:
        ctx.anon_csrf()  # a visitor without a cookie gets one, so the draft is theirs alone
    async with ctx.begin_anonymous() as conn:
        token = await form_drafts.keep(conn, _owner(ctx), path, jsonable_encoder(dict(body)))
    response = RedirectResponse(path + "?" + urlencode({**(query or {}), PARAM: token}), status_code=303)
    return ctx.set_anon_cookie(response)


def status(draft: Mapping[str, object]) -> int:
    """The HTTP status the kept page answers with: the refusal's (422, 403…), 200 without a draft."""
    value = draft.get("status", 200)
    return value if isinstance(value, int) else 200


async def recall(ctx: WebContext, conn: AsyncConnection) -> dict[str, Any]:
    """The draft this GET page was redirected with, or {} (none, expired, or another browser's)."""
    token = ctx.request.query_params.get(PARAM)
    found = await form_drafts.recall(conn, token, _owner(ctx), ctx.request.url.path)
    return found or {}
