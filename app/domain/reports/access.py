"""Who reads which figures. A place: staff whose grant (not a portal key) covers it. A program: the
programs the grant's department works on (``programs.departments``: a county's civil affairs office
reads 低保, 特困 and 临时救助, not the education bureau's student aid). The same at every level: a city's
or a province's office supervises its own department's programs below it (as ``tasks/supervision.py``
does), so a city education bureau reads no 低保 figures. An administrator reads every program
(docs/reports.md)."""

from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.people.divisions import role_department
from app.domain.people.principal import GrantScope, Principal
from app.domain.programs.departments import departments_programs


def _reads(grant: GrantScope, path: str) -> bool:
    return grant.role != "portal" and bool(grant.division_path) and path.startswith(grant.division_path or "")


def may_read_place(principal: Principal, path: str) -> bool:
    return principal.is_admin or any(_reads(g, path) for g in principal.grants)


async def readable_programs(conn: AsyncConnection, principal: Principal, path: str) -> frozenset[str] | None:
    """The programs whose figures at ``path`` the caller reads; None for all of them."""
    if principal.is_admin:
        return None
    grants = [g for g in principal.grants if _reads(g, path)]
    by_department = await departments_programs(conn)
    found: set[str] = set()
    for grant in grants:
        found |= by_department.get(role_department(grant.role) or "", set())
    return frozenset(found)
