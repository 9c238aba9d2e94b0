"""What a refused web form showed, kept in the database for the page it redirects to.

Web forms follow POST/redirect/GET: a refused submission is answered 303 to its form's GET page with
a random token in the URL, and that page shows the entered values and messages kept here. So the
browser's history holds only GET pages (Back never asks to resend a form), and any replica can show
the page, since they share the database. A draft is read only by the browser that made it (``owner``,
a hash of its session or anonymous cookie), only on its page, for half an hour (real time, like
sessions); expired drafts are deleted whenever a new one is kept.
"""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import form_drafts

TTL = timedelta(minutes=30)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def keep(conn: AsyncConnection, owner: str, path: str, body: dict[str, object]) -> str:
    """Store ``body`` for ``path``; the token to put in the redirect's URL."""
    now = clock.real_now()
    await conn.execute(sa.delete(form_drafts).where(form_drafts.c.expires_at <= now))
    token = secrets.token_urlsafe(18)
    await conn.execute(
        sa.insert(form_drafts).values(
            id=_hash(token), owner=_hash(owner), path=path[:300], body=body, expires_at=now + TTL
        )
    )
    return token


async def recall(conn: AsyncConnection, token: str | None, owner: str, path: str) -> dict[str, object] | None:
    """The body kept under ``token`` for this owner and page, or None (unknown, expired, someone else's)."""
    if not token:
        return None
    row = (
        await conn.execute(
            sa.select(form_drafts.c.body).where(
                form_drafts.c.id == _hash(token),
                form_drafts.c.owner == _hash(owner),
                form_drafts.c.path == path[:300],
                form_drafts.c.expires_at > clock.real_now(),
            )
        )
    ).first()
    return dict(row.body) if row is not None else None
