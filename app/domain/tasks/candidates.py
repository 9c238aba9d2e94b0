"""Who may receive a task: the people a holder chooses from for 转办, 委派, 加签 and 抄送.

The list applies the same rules as the actions themselves (``tasks.people``, ``tasks.signing``),
so nobody in it is refused for who they are; the actions still check the person chosen, since a
form can be made by hand. Each rule, by action:

- ``transfer`` (转办): the task's role at its place or a place above it;
- ``delegate`` (委派) and ``add_signer`` (加签): any office at the task's place or above it;
- ``copy`` (抄送): a role of the program at the case's place or above it.

Always active users only (an API key holds no task), never the caller, and for all but a copy
nobody the four-eyes or staff-relative rules exclude (``separation.barred``), nor a present signer.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import divisions, grants, users
from app.domain.errors import Invalid
from app.domain.people import divisions as division_service
from app.domain.people.principal import Principal
from app.domain.people.roles import department_label, role_label
from app.domain.programs import definitions
from app.domain.tasks import separation, signers
from app.domain.tasks.actions import load, require_holder, require_person

ACTIONS = ("transfer", "delegate", "add_signer", "copy")

# Active users with a grant at one of the given places (the task's place and its ancestors), nearest
# place first, then by department and name: the order of the picker's groups.
_AT_PLACES = (
    sa.select(
        users.c.username,
        users.c.display_name,
        grants.c.role,
        grants.c.division_code,
        divisions.c.name.label("place"),
        divisions.c.level,
        divisions.c.path,
    )
    .join(grants, grants.c.user_id == users.c.id)
    .join(divisions, divisions.c.code == grants.c.division_code)
    .where(users.c.active, grants.c.division_code.in_(sa.bindparam("codes", expanding=True)))
    .order_by(divisions.c.path.desc(), grants.c.role, users.c.display_name, users.c.username)
)


def _fits(action: str, role: str, task_role: str, program_roles: set[str]) -> bool:
    if action == "transfer":
        return role == task_role
    if action == "copy":
        return role in program_roles
    return division_service.role_level(role) is not None  # an office, not admin or portal


async def of_task(
    conn: AsyncConnection, principal: Principal, task_id: str, action: str
) -> list[dict[str, Any]]:
    """The people the caller, holding the task, may choose for ``action``."""
    if action not in ACTIONS:
        raise Invalid("invalid_action", f"action must be one of {ACTIONS}", actions=list(ACTIONS))
    task, app = await load(conn, principal, task_id)
    require_person(principal)
    require_holder(principal, task)
    definition = await definitions.by_id(conn, app["definition_id"])
    program_roles = {s.role for s in definition.model.steps.values() if s.role}
    path = app["division_path"] if action == "copy" else task["division_path"]
    codes = [c for c in path.strip("/").split("/") if c]
    excluded = {principal.name}
    if action != "copy":
        excluded |= await separation.barred(conn, definition, task, app["data"] or {})
    if action == "add_signer":
        excluded |= {
            r["username"] for r in await signers.rows_of(conn, task["id"]) if r["state"] != "removed"
        }
    found: dict[str, dict[str, Any]] = {}
    for r in await conn.execute(_AT_PLACES, {"codes": codes}):
        if r.username in excluded or r.username in found:
            continue
        if not _fits(action, r.role, task["role"], program_roles):
            continue
        found[r.username] = {
            "username": r.username,
            "name": r.display_name,
            "role": r.role,
            "role_label": role_label(r.role),
            "department": department_label(r.role),
            "division_code": r.division_code,
            "place": r.place,
        }
    return list(found.values())
