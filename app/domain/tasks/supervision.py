"""Supervision: the same department one level up watches the overdue work below it."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import divisions, tasks
from app.db.models import process_definitions as definitions
from app.domain.cases import views
from app.domain.errors import Forbidden
from app.domain.people import divisions as division_service
from app.domain.people.principal import Principal, path_range
from app.domain.timekeeping import calendar


def _supervised(principal: Principal) -> sa.ColumnElement[bool]:
    """Tasks of a grant's department at a lower level, under the grant's place (admins: all)."""
    if principal.is_admin:
        return sa.true()
    conditions = []
    for grant in principal.grants:
        level = division_service.role_level(grant.role)
        if level is None or grant.division_path is None:
            continue
        department = grant.role[len(level) + 1 :]
        below = division_service.levels_below(level)
        roles = [f"{lower}_{department}" for lower in below]
        if roles:
            conditions.append(
                sa.and_(tasks.c.role.in_(roles), path_range(tasks.c.division_path, grant.division_path))
            )
    if not conditions:
        raise Forbidden("not_a_supervisor", "supervision needs a role above the level of the work supervised")
    return sa.or_(*conditions)


async def overdue(
    conn: AsyncConnection, principal: Principal, division_code: str | None, limit: int = 200
) -> dict[str, Any]:
    return await _late_work(conn, principal, division_code, limit, tasks.c.due_at < clock.now())


async def due_soon(
    conn: AsyncConnection,
    principal: Principal,
    division_code: str | None,
    working_days: int = 2,
    limit: int = 200,
) -> dict[str, Any]:
    """Open tasks not yet late whose deadline falls within the next ``working_days`` working days."""
    days = await calendar.load(conn)
    until, _ = days.deadline(clock.now(), working_days)
    return await _late_work(
        conn, principal, division_code, limit, sa.and_(tasks.c.due_at >= clock.now(), tasks.c.due_at <= until)
    )


async def _late_work(
    conn: AsyncConnection,
    principal: Principal,
    division_code: str | None,
    limit: int,
    due: sa.ColumnElement[bool],
) -> dict[str, Any]:
    where = [tasks.c.state == "open", due, _supervised(principal)]
    if division_code:
        where.append(await division_service.at_or_below(conn, tasks.c.division_path, division_code))
    counts = await conn.execute(
        sa.select(tasks.c.division_code, divisions.c.name, sa.func.count().label("overdue"))
        .join(divisions, divisions.c.code == tasks.c.division_code)
        .where(*where)
        .group_by(tasks.c.division_code, divisions.c.name)
        .order_by(sa.func.count().desc(), tasks.c.division_code)
    )
    by_division = [{"division_code": r.division_code, "name": r.name, "overdue": r.overdue} for r in counts]
    rows = await conn.execute(
        sa.select(tasks).where(*where).order_by(tasks.c.due_at, tasks.c.id).limit(limit)
    )
    days = await calendar.load(conn)
    return {
        "total": sum(d["overdue"] for d in by_division),
        "by_division": by_division,
        "items": [views.listed_task_view(r, days, principal.name) for r in rows.mappings()],
    }


# An export lists every overdue task in scope (the page and GET /supervision/overdue show the first 200).
EXPORT_LIMIT = 10_000


async def overdue_export(
    conn: AsyncConnection, principal: Principal, division_code: str | None
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The overdue list for a spreadsheet: ``overdue``'s answer, place code → name, program key → name."""
    result = await overdue(conn, principal, division_code, EXPORT_LIMIT)
    items: list[dict[str, Any]] = result["items"]
    places = await division_service.lookup(conn, [t["division_code"] for t in items])
    programs = await conn.execute(
        sa.select(definitions.c.key, definitions.c.name)
        .where(definitions.c.key.in_({t["program"] for t in items}))
        .order_by(definitions.c.key, definitions.c.version)
    )
    names = {row.key: row.name for row in programs}  # the newest version's name wins
    return result, {code: p["name"] for code, p in places.items()}, names


SUPERVISING_LEVELS = ("province", "city", "county")


def is_supervisor(principal: Principal) -> bool:
    """Whether a principal gets the supervision page: county level and above, or admin."""
    return principal.is_admin or any(
        division_service.role_level(g.role) in SUPERVISING_LEVELS for g in principal.grants
    )
