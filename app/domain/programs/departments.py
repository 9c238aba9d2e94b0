"""Which programs a department works on — a county's civil affairs office on 低保, 特困 and 临时救助, the
education bureau on student aid — decided from the deployed process definitions (any version: their
lanes, steps' roles and starters), so a new program is covered as soon as it is deployed. Who reads a
program's figures (``reports.access``) and a case's materials (``materials.access``) both ask here."""

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import process_definitions
from app.domain.people.divisions import role_department
from app.domain.programs import definitions

# Every deployed version: (id, key). A caller may narrow it (one program) or read it within a larger
# statement of its own, then fold the rows with ``of_definitions``.
DEFINITIONS = sa.select(process_definitions.c.id, process_definitions.c.key)


async def of_definitions(conn: AsyncConnection, rows: Iterable[tuple[int, str]]) -> dict[str, set[str]]:
    """department → the programs among ``rows`` (definition id, program key) whose definitions give
    some work to a role of that department. Definitions are immutable, so ``definitions.by_id`` reads
    each one once per process."""
    found: dict[str, set[str]] = {}
    for definition_id, key in rows:
        definition = await definitions.by_id(conn, definition_id)
        roles = set(definition.model.element_lanes.values()) | set(definition.config.process.starters)
        roles |= {step.role for step in definition.model.steps.values() if step.role}
        for role in roles:
            department = role_department(role)
            if department is not None:
                found.setdefault(department, set()).add(key)
    return found


async def departments_programs(conn: AsyncConnection) -> dict[str, set[str]]:
    """department → the programs whose definitions give some work to a role of that department."""
    return await of_definitions(conn, [(r.id, r.key) for r in await conn.execute(DEFINITIONS)])
