"""Who reads which figures. A place: staff whose grant (not a portal key) covers it. A program: the
programs the grant's department works on — a county's civil affairs office reads 低保, 特困 and 临时救助,
not the education bureau's student aid — decided from the deployed process definitions (any version:
their lanes, steps' roles and starters), so a new program is covered as soon as it is deployed.
An administrator and the supervising offices above the county (province and city grants) read every
program (docs/reports.md)."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import process_definitions
from app.domain.people.divisions import role_department, role_level
from app.domain.people.principal import GrantScope, Principal
from app.domain.programs import definitions

# Grants at these levels read every program's figures of their place (supervision across departments).
ALL_PROGRAM_LEVELS = ("province", "city")


def _reads(grant: GrantScope, path: str) -> bool:
    return grant.role != "portal" and bool(grant.division_path) and path.startswith(grant.division_path or "")


def may_read_place(principal: Principal, path: str) -> bool:
    return principal.is_admin or any(_reads(g, path) for g in principal.grants)


async def departments_programs(conn: AsyncConnection) -> dict[str, set[str]]:
    """department → the programs whose definitions give some work to a role of that department."""
    found: dict[str, set[str]] = {}
    rows = (await conn.execute(sa.select(process_definitions.c.id, process_definitions.c.key))).all()
    for definition_id, key in rows:
        definition = await definitions.by_id(conn, definition_id)
        roles = set(definition.model.element_lanes.values()) | set(definition.config.process.starters)
        roles |= {step.role for step in definition.model.steps.values() if step.role}
        for role in roles:
            department = role_department(role)
            if department is not None:
                found.setdefault(department, set()).add(key)
    return found


async def readable_programs(conn: AsyncConnection, principal: Principal, path: str) -> frozenset[str] | None:
    """The programs whose figures at ``path`` the caller reads; None for all of them."""
    if principal.is_admin:
        return None
    grants = [g for g in principal.grants if _reads(g, path)]
    if any(role_level(g.role) in ALL_PROGRAM_LEVELS for g in grants):
        return None
    by_department = await departments_programs(conn)
    found: set[str] = set()
    for grant in grants:
        found |= by_department.get(role_department(grant.role) or "", set())
    return frozenset(found)
