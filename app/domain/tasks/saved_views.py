"""A reviewer's saved inbox views: a name and the inbox filters it stands for."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import saved_views
from app.domain.errors import Conflict, Invalid, NotFound

# Only these inbox parameters are kept; anything else in a request is dropped, not stored.
KEYS = ("scope", "program", "division_code", "overdue", "sort")
MAX_PER_USER = 20


def clean(query: dict[str, Any]) -> dict[str, Any]:
    return {k: str(query[k]) for k in KEYS if query.get(k) not in (None, "")}


async def list_(conn: AsyncConnection, username: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(saved_views.c.id, saved_views.c.name, saved_views.c.query)
        .where(saved_views.c.username == username)
        .order_by(saved_views.c.name)
    )
    return [dict(r) for r in rows.mappings()]


async def save(conn: AsyncConnection, username: str, name: str, query: dict[str, Any]) -> dict[str, Any]:
    name = name.strip()
    if not 1 <= len(name) <= 50:
        raise Invalid("invalid_view_name", "a view name has 1 to 50 characters")
    count = (
        await conn.execute(
            sa.select(sa.func.count()).select_from(saved_views).where(saved_views.c.username == username)
        )
    ).scalar_one()
    if count >= MAX_PER_USER:
        raise Invalid("too_many_views", f"at most {MAX_PER_USER} saved views per user")
    try:
        async with conn.begin_nested():
            view_id = (
                await conn.execute(
                    sa.insert(saved_views)
                    .values(username=username, name=name, query=clean(query), created_at=clock.now())
                    .returning(saved_views.c.id)
                )
            ).scalar_one()
    except IntegrityError:
        raise Conflict("view_name_taken", f"a view named {name!r} exists already") from None
    return {"id": view_id, "name": name, "query": clean(query)}


async def delete(conn: AsyncConnection, username: str, view_id: int) -> None:
    gone = await conn.execute(
        sa.delete(saved_views).where(saved_views.c.id == view_id, saved_views.c.username == username)
    )
    if gone.rowcount != 1:
        raise NotFound("view_not_found", "no such saved view")
