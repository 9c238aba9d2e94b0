"""Browser sessions of the web UI, kept on the server so that logging out really ends them.

The cookie carries a random token; the table keeps only its sha256 (a leaked table opens no
session). A session ends after ``idle_seconds`` without a request or ``ttl_seconds`` after login,
whichever comes first, on real time like bearer tokens (moving the test clock expires nothing).
"""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import web_sessions

# A page view refreshes last_seen_at at most this often (one write per minute, not per request).
_TOUCH_EVERY = timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start(conn: AsyncConnection, username: str, ttl_seconds: int) -> str:
    token = secrets.token_urlsafe(32)
    now = clock.real_now()
    await conn.execute(
        sa.insert(web_sessions).values(
            id=_hash(token),
            username=username,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    return token


async def resolve(conn: AsyncConnection, token: str | None, idle_seconds: int) -> str | None:
    """The username of a live session, or None (unknown, idle too long, or past its end)."""
    if not token:
        return None
    row = (
        (await conn.execute(sa.select(web_sessions).where(web_sessions.c.id == _hash(token))))
        .mappings()
        .first()
    )
    now = clock.real_now()
    if row is None:
        return None
    if row["expires_at"] <= now or row["last_seen_at"] + timedelta(seconds=idle_seconds) <= now:
        await conn.execute(sa.delete(web_sessions).where(web_sessions.c.id == row["id"]))
        return None
    if now - row["last_seen_at"] >= _TOUCH_EVERY:
        await conn.execute(
            sa.update(web_sessions).where(web_sessions.c.id == row["id"]).values(last_seen_at=now)
        )
    username: str = row["username"]
    return username


async def end(conn: AsyncConnection, token: str | None) -> None:
    if token:
        await conn.execute(sa.delete(web_sessions).where(web_sessions.c.id == _hash(token)))


async def purge_expired(conn: AsyncConnection) -> int:
    """Drop sessions past their absolute end (called at login, so the table stays small)."""
    return (
        await conn.execute(sa.delete(web_sessions).where(web_sessions.c.expires_at <= clock.real_now()))
    ).rowcount
