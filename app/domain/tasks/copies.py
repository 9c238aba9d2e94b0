"""抄送 (copies): who may read a case without acting on it, and find it under 抄送我的."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import case_copies
from app.domain.audit import Recorder
from app.domain.people.principal import Principal


async def add(
    conn: AsyncConnection,
    app: dict[str, Any],
    task: dict[str, Any] | None,
    usernames: list[str],
    roles: list[str],
    note: str | None,
    rec: Recorder,
) -> None:
    """Copy a case to people, or to the holders of roles at the task's (or case's) place."""
    rows = [
        {
            "application_id": app["id"],
            "task_id": task["id"] if task else None,
            "username": u,
            "role": None,
            "division_path": None,
            "note": note,
            "created_by": rec.actor,
            "created_at": rec.at,
        }
        for u in usernames
    ]
    rows += [
        {
            "application_id": app["id"],
            "task_id": task["id"] if task else None,
            "username": None,
            "role": r,
            "division_path": (task or app)["division_path"],
            "note": note,
            "created_by": rec.actor,
            "created_at": rec.at,
        }
        for r in roles
    ]
    if rows:
        await conn.execute(sa.insert(case_copies), rows)
        rec.add(
            "case.copied",
            app["id"],
            {"usernames": usernames, "roles": roles, "note": note},
            task,
            app["division_path"],
        )


def copied_to(principal: Principal) -> sa.ColumnElement[bool]:
    """SQL: case copies addressed to this principal, by name or by a role it holds at that place."""
    by_role = [
        sa.and_(case_copies.c.role == g.role, case_copies.c.division_path.startswith(g.division_path))
        for g in principal.grants
        if g.division_path
    ]
    # Copies by name go to users; an API key of the same name is someone else.
    by_name = case_copies.c.username == principal.name if principal.kind == "user" else sa.false()
    return sa.or_(by_name, *by_role)


async def can_read_copy(conn: AsyncConnection, principal: Principal, application_id: str) -> bool:
    return (
        await conn.execute(
            sa.select(case_copies.c.id)
            .where(case_copies.c.application_id == application_id, copied_to(principal))
            .limit(1)
        )
    ).first() is not None
