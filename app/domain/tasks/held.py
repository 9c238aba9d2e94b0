"""The steps a reviewer holds, grouped for bulk completion (批量办理)."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import tasks
from app.domain.people.principal import Principal


async def mine_by_step(conn: AsyncConnection, principal: Principal) -> list[dict[str, Any]]:
    """The caller's claimed open tasks grouped by program and step, with counts (bulk completion)."""
    rows = await conn.execute(
        sa.select(
            tasks.c.program,
            tasks.c.name,
            sa.func.min(tasks.c.title).label("title"),
            sa.func.count().label("count"),
        )
        .where(principal.personal(tasks.c.assignee), tasks.c.state == "open")
        .group_by(tasks.c.program, tasks.c.name)
        .order_by(tasks.c.program, tasks.c.name)
    )
    return [dict(r) for r in rows.mappings()]
