"""The signatures of one task's step as its page and the API show them (app/domain/materials/
signatures holds the rules; this joins them to the task the caller may read)."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import applications
from app.domain.materials import signatures
from app.domain.people.principal import Principal
from app.domain.programs import definitions
from app.domain.tasks import worklist


async def of_task(conn: AsyncConnection, principal: Principal, task_id: str) -> dict[str, Any]:
    """``{task_id, application_id, items: [{key, label, required, conditional, signed}]}``: required
    is read over the case's data and what the task holds so far; ``conditional`` items depend on what
    the step's form will say (现金 or not), checked again when the step is completed."""
    task = await worklist.get(conn, principal, task_id)
    row = (
        (await conn.execute(sa.select(applications).where(applications.c.id == task["application"]["id"])))
        .mappings()
        .one()
    )
    config = (await definitions.by_id(conn, row["definition_id"])).config
    data = {**(row["data"] or {}), **(task["data"] or {})}
    items = await signatures.status(conn, config, task, data)
    declared = {signatures.PREFIX + i.key: i for i in signatures.of_step(config, task["name"])}
    return {
        "task_id": task["id"],
        "application_id": row["id"],
        "items": [{**i, "conditional": declared[i["key"]].when is not None} for i in items],
    }
