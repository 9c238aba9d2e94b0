"""The web UI's request context: session cookie → principal, CSRF tokens, one transaction.

Mirrors ``app.api.deps.RequestContext``: a route opens ``ctx.begin()`` and calls the same domain
services inside it. Without a live session a page redirects to the login (``LoginRequired``).

CSRF: every form carries ``csrf_token`` = HMAC(secret, session token). Forms shown before
login (the login itself, public objections) bind the token to a random ``aidflow_anon`` cookie
instead (double submit, signed). SameSite=Lax cookies are a second line, not the only one.
"""

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.datastructures import FormData

from app.config import Settings
from app.db.engine import transaction
from app.domain.errors import DomainError, Forbidden
from app.domain.people import accounts, web_sessions
from app.domain.people.principal import Principal
from app.domain.reports import places as report_places
from app.domain.tasks import supervision

SESSION_COOKIE = "aidflow_session"
ANON_COOKIE = "aidflow_anon"


class LoginRequired(Exception):
    def __init__(self, next_url: str, expired: bool):
        self.next_url = next_url
        self.expired = expired


class CsrfFailed(DomainError):
    status = 403


def csrf_for(secret: str, binding: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + binding.encode(), hashlib.sha256).hexdigest()


@dataclass
class Me:
    """The signed-in reviewer as pages show them."""

    principal: Principal
    display_name: str
    is_supervisor: bool

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def reads_reports(self) -> bool:
        """Whether 统计报表 is offered: staff at a township or above, or an administrator."""
        return report_places.reads_reports(self.principal)

    @property
    def handles_money(self) -> bool:
        """A county office (or the county finance office) that may prepare or approve payment batches."""
        return any(g.role.startswith("county_") for g in self.principal.grants)


@dataclass
class WebContext:
    request: Request
    db: AsyncEngine
    settings: Settings
    anon_token: str | None = field(default=None)

    @property
    def session_token(self) -> str | None:
        return self.request.cookies.get(SESSION_COOKIE)

    @property
    def csrf(self) -> str:
        return csrf_for(self.settings.signing_key, self.session_token or "")

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[tuple[AsyncConnection, Me]]:
        """The signed-in reviewer and the request's one transaction (commits when the block ends)."""
        async with transaction(self.db) as conn:
            username = await web_sessions.resolve(conn, self.session_token, self.settings.ui_idle_seconds)
            if username is None:
                raise LoginRequired(self._here(), expired=self.session_token is not None)
            principal = await accounts.principal_for_user(conn, username)
            yield (
                conn,
                Me(
                    principal,
                    await accounts.display_name(conn, username),
                    supervision.is_supervisor(principal),
                ),
            )

    @asynccontextmanager
    async def begin_anonymous(self) -> AsyncIterator[AsyncConnection]:
        async with transaction(self.db) as conn:
            yield conn

    def _here(self) -> str:
        url = self.request.url.path
        return (
            url + ("?" + self.request.url.query if self.request.url.query else "")
            if self.request.method == "GET"
            else "/ui/"
        )

    async def form(self) -> FormData:
        """The posted form (a multidict) after checking its CSRF token against the session."""
        form = await self.request.form()
        expected = self.csrf if self.session_token else self.anon_csrf()
        if not hmac.compare_digest(str(form.get("csrf_token", "")), expected):
            raise CsrfFailed("csrf_failed", "the form's CSRF token is missing or wrong")
        return form

    # Forms for visitors without a session (login, objections) bind their token to this cookie.
    def anon_csrf(self) -> str:
        if self.anon_token is None:
            self.anon_token = self.request.cookies.get(ANON_COOKIE) or secrets.token_urlsafe(24)
        return csrf_for(self.settings.signing_key, "anon:" + self.anon_token)

    def set_anon_cookie(self, response: Response) -> Response:
        if self.anon_token and self.anon_token != self.request.cookies.get(ANON_COOKIE):
            response.set_cookie(
                ANON_COOKIE, self.anon_token, httponly=True, samesite="lax", secure=self.secure, path="/ui"
            )
        return response

    @property
    def secure(self) -> bool:
        """Cookies only over https where the request came over https (a proxy listed in
        AIDFLOW_TRUSTED_PROXIES says so) or in production: a demo reached by host name over plain
        http must still be able to log in."""
        return self.settings.env == "production" or self.request.url.scheme == "https"


async def _context(request: Request) -> WebContext:
    return WebContext(request, request.app.state.db, request.app.state.settings)


WebCtx = Annotated[WebContext, Depends(_context)]


def login_redirect(exc: LoginRequired) -> str:
    return f"/ui/login?next={quote(exc.next_url, safe='')}" + ("&expired=1" if exc.expired else "")


def require_admin(me: Me) -> None:
    if not me.is_admin:
        raise Forbidden("admin_only", "this needs the admin role")
