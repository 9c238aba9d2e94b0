"""Request context: the database, the settings and the caller, inside one transaction."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.db.engine import reading, transaction
from app.domain.errors import Forbidden, Unauthorized
from app.domain.people import accounts, credentials
from app.domain.people.principal import Principal

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass
class RequestContext:
    db: AsyncEngine
    reads: AsyncEngine
    settings: Settings
    token: str | None
    api_key: str | None

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[tuple[AsyncConnection, Principal]]:
        """Authenticate and open the request's one transaction; it commits when the block ends."""
        async with transaction(self.db) as conn:
            yield conn, await self._principal(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[tuple[AsyncConnection, Principal]]:
        """As ``begin`` for a request that only reads (``db.engine.reading``): no BEGIN and COMMIT
        round trips on PostgreSQL."""
        async with reading(self.reads) as conn:
            yield conn, await self._principal(conn)

    @asynccontextmanager
    async def begin_anonymous(self) -> AsyncIterator[AsyncConnection]:
        async with transaction(self.db) as conn:
            yield conn

    async def _principal(self, conn: AsyncConnection) -> Principal:
        if self.api_key:
            return await accounts.principal_for_api_key(conn, self.api_key)
        if self.token:
            username, issued_at = credentials.claims_from_token(self.token, self.settings.signing_key)
            return await accounts.principal_for_user(conn, username, issued_at)
        raise Unauthorized("not_authenticated", "send a bearer token or an X-API-Key header")


async def log_in(db: AsyncEngine, username: str, password: str) -> str:
    """Check a password (API token, web UI, a user's own password change alike). The attempt is
    counted towards the lock-out first, in a committed transaction of its own, and only then is the
    password checked (outside any transaction: argon2 is slow and SQLite has one writer); a right
    one resets the count. So concurrent wrong guesses get no more checks than sequential ones."""
    async with transaction(db) as conn:
        attempt = await credentials.take_login_attempt(conn, username)
    matches = credentials.password_matches(attempt, password)  # as slow for an unknown username
    if attempt is None or not matches or not attempt.active:
        raise Unauthorized("invalid_credentials", "wrong username or password")
    async with transaction(db) as conn:
        await credentials.login_succeeded(conn, username)
    return username


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread, a hop per request.
async def _context(
    request: Request,
    token: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> RequestContext:
    state = request.app.state
    return RequestContext(state.db, state.reads, state.settings, token, api_key)


async def _public_context(request: Request) -> RequestContext:
    """The same context without reading credentials: public routes carry no security requirement."""
    state = request.app.state
    return RequestContext(state.db, state.reads, state.settings, None, None)


Ctx = Annotated[RequestContext, Depends(_context)]
# Public routes (notices, objections, the token endpoint): anonymous, so no security in the schema.
PublicCtx = Annotated[RequestContext, Depends(_public_context)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
# Integers a caller names go into INTEGER columns (PostgreSQL int4; SQLite refuses beyond int64):
# bounded here so 2**40 is a 422 and never a database error.
MAX_INT32 = 2**31 - 1
VersionNo = Annotated[int, Path(ge=1, le=MAX_INT32)]
VersionQuery = Annotated[int, Query(ge=1, le=MAX_INT32)]
RowId = Annotated[int, Path(ge=1, le=MAX_INT32)]
SchoolYear = Annotated[int, Path(ge=1900, le=2200)]


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("admin_only", "this needs the admin role")
