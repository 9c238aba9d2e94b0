"""Which places a person may choose on the reports page: those their grants cover (not a portal
key's), down to the level the figures are kept at (``metrics.GRAIN_DEPTH``)."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import divisions
from app.domain.people.principal import Principal, path_range
from app.domain.reports import metrics
from app.domain.reports.figures import may_read


def reads_reports(principal: Principal) -> bool:
    """An administrator, or staff with a grant at a place figures are kept for (a village's office
    has none: its cases count at its township)."""
    return principal.is_admin or any(
        g.role != "portal" and g.division_path and metrics.depth(g.division_path) <= metrics.GRAIN_DEPTH
        for g in principal.grants
    )


def _depth_at_most(levels: int) -> sa.ColumnElement[bool]:
    # A path "/34/3406/" has depth + 1 slashes; counted the same way on PostgreSQL and SQLite.
    slashes = sa.func.length(divisions.c.path) - sa.func.length(sa.func.replace(divisions.c.path, "/", ""))
    return slashes <= levels + 1


async def choices(
    conn: AsyncConnection, principal: Principal, levels: int, limit: int = 500
) -> list[dict[str, Any]]:
    """Places ``levels`` deep or above that the principal may read, top-down (code, name, path)."""
    query = sa.select(divisions.c.code, divisions.c.name, divisions.c.path).where(_depth_at_most(levels))
    if not principal.is_admin:
        covered = [
            path_range(divisions.c.path, g.division_path)
            for g in principal.grants
            if g.role != "portal" and g.division_path
        ]
        if not covered:
            return []
        query = query.where(sa.or_(*covered))
    rows = await conn.execute(query.order_by(divisions.c.path).limit(limit))
    return [dict(r) for r in rows.mappings()]


async def ancestors(conn: AsyncConnection, principal: Principal, path: str) -> list[dict[str, Any]]:
    """The places above ``path`` that the principal may read, top-down (the drill-down's way back up)."""
    parts = path.strip("/").split("/")
    above = ["/" + "/".join(parts[:n]) + "/" for n in range(1, len(parts))]
    if not above:
        return []
    rows = await conn.execute(
        sa.select(divisions.c.code, divisions.c.name, divisions.c.path)
        .where(divisions.c.path.in_(above))
        .order_by(divisions.c.path)
    )
    return [dict(r) for r in rows.mappings() if may_read(principal, r["path"])]
