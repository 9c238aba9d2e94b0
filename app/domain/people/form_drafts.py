"""What a refused web form showed, kept in the database for the page it redirects to.

Web forms follow POST/redirect/GET: a refused submission is answered 303 to its form's GET page with
a random token in the URL, and that page shows the entered values and messages kept here. So the
browser's history holds only GET pages (Back never asks to resend a form), and any replica can show
the page, since they share the database. A draft is read only by the browser that made it (``owner``,
a hash of its session or anonymous cookie), only on its page, for half an hour (real time, like
sessions); expired drafts are deleted whenever a new one is kept, and by ``aidflow prune``.

A draft is bounded (``bounded``): no text longer than a form field can be, no body larger than its
owner's allowance. A visitor without a session gets a small one: they can post without logging in.
"""

import hashlib
import json
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import form_drafts

TTL = timedelta(minutes=30)
# Longer than any text field of a form (an objection's reason: 2,000 characters).
MAX_TEXT = 4000
# What one draft may hold, as JSON bytes: a session's (an upload's list of problems can be long) and
# an anonymous visitor's (an objection with its four fields and a message).
MAX_BYTES = 64 * 1024
MAX_BYTES_ANONYMOUS = 16 * 1024
# What a page needs to say why, when the rest of an oversized draft is dropped.
ESSENTIAL = ("status", "error", "retry_after")


def _cut(value: object) -> object:
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, dict):
        return {str(k)[:200]: _cut(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v) for v in value]
    return value


def _size(body: dict[str, object]) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode())


def bounded(body: dict[str, object], max_bytes: int) -> dict[str, object]:
    """``body`` with every text cut to ``MAX_TEXT``; if it is still over ``max_bytes``, the entered
    values go, and then everything but the status and the message."""
    cut = {str(k)[:200]: _cut(v) for k, v in body.items()}
    if _size(cut) <= max_bytes:
        return cut
    cut.pop("raw", None)
    if _size(cut) <= max_bytes:
        return cut
    return {k: cut[k] for k in ESSENTIAL if k in cut}


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def keep(
    conn: AsyncConnection, owner: str, path: str, body: dict[str, object], max_bytes: int = MAX_BYTES
) -> str:
    """Store ``body`` (bounded to ``max_bytes``) for ``path``; the token to put in the redirect's URL."""
    body = bounded(body, max_bytes)
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
