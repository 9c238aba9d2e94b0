"""How an inbox page is read: the scope as disjoint parts, each in the page's order off an index.

A page never sorts every row in scope. Each part (for each grant's place: the rows at the place
itself, then those below it; per state for ``scope=all``) reads at most offset + limit + 1 rows in
the page's order (deadline, arrival, id) off one index (migration 0020); only those few are sorted
together, and the page's rows are read whole at the end.
"""

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.sql.base import ReadOnlyColumnCollection

from app.db.models import tasks
from app.domain.people.principal import Principal

# A condition on tasks: a part of a scope, or a filter.
Condition = sa.ColumnElement[bool]
# A page's statement, or [] when no place is in scope, or None for a read with one condition.
Page = sa.Select[Any] | sa.TextualSelect | list[Condition] | None
# The columns of the tasks table, or of a subquery carrying the sort keys.
Columns = ReadOnlyColumnCollection[str, Any]

SORTS = {
    "due_at": lambda c: (c.due_at.asc().nulls_last(),),
    "-due_at": lambda c: (c.due_at.desc().nulls_last(),),
    "created_at": lambda c: (c.created_at.asc(),),
    "-created_at": lambda c: (c.created_at.desc(),),
    "-completed_at": lambda c: (c.completed_at.desc().nulls_last(),),
}


@functools.lru_cache(maxsize=1024)
def unfiltered(
    dialect: str,
    principal: Principal,
    scope: str,
    state: str | None,
    within: str | None,
    states: tuple[str, ...],
    sort: str,
    limit: int,
    offset: int,
) -> Page:
    """A page without filters (most requests: a tab's first pages) as a statement built once per
    principal and page and then reused: building a statement of 20 grants' parts costs ~5 ms of
    Python, executing it a fraction. None or [] as ``disjoint_parts`` answers.

    On PostgreSQL the statement carries its values as literals (places, roles, states: the principal's
    own grants, escaped by SQLAlchemy): a statement without parameters is planned once per connection
    (asyncpg prepares it) instead of at every execution, and planning the parts cost more than running
    them (1.3 against 2.9 ms for a township's page, 3.1 against 15 ms for 20 townships', measured)."""
    parts = disjoint_parts(principal, scope, state, within, states)
    if not parts:
        return parts
    page = query(parts, [], sort, limit, offset)
    if dialect != "postgresql":
        return page
    dialect_ = asyncpg.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialect classes are untyped
    sql = str(page.compile(dialect=dialect_, compile_kwargs={"literal_binds": True}))
    return sa.text(sql.replace(":", "\\:")).columns(*tasks.c)  # a colon is no bind parameter here


def query(
    parts: list[Condition], filters: list[Condition], sort: str, limit: int, offset: int
) -> sa.Select[Any]:
    """UNION ALL of the parts, each cut to the rows this page could show. (Without the per-part ORDER
    BY and LIMIT, PostgreSQL 15 plans each part for all its rows and sorts them all.) The parts carry
    the sort keys only; the page's rows are read whole at the end."""

    def first_rows(part: Condition) -> sa.Select[Any]:
        ordered = sa.select(*_keys(sort)).where(part, *filters).order_by(*order(tasks.c, sort))
        return sa.select(ordered.limit(offset + limit + 1).subquery())

    union = sa.union_all(*(first_rows(part) for part in parts)).subquery("parts")
    page = sa.select(union).order_by(*order(union.c, sort)).limit(limit + 1).offset(offset).subquery()
    return sa.select(tasks).join(page, page.c.id == tasks.c.id).order_by(*order(page.c, sort))


def _keys(sort: str) -> tuple[sa.Column[Any], ...]:
    """The columns a part carries: the sort's (all in the part's index, so PostgreSQL can read the
    part off the index alone once the table is vacuumed)."""
    column = tasks.c[sort.lstrip("-")]
    return (tasks.c.id, tasks.c.created_at) + ((column,) if column is not tasks.c.created_at else ())


def order(columns: Columns, sort: str) -> tuple[sa.ColumnElement[Any], ...]:
    """The page's order; arrival and id make it total, so pages neither repeat nor skip rows."""
    return (*SORTS[sort](columns), columns.created_at, columns.id)


def _covering(paths: set[str]) -> list[str]:
    """The paths no other path of the set covers (a grant below another grant adds nothing)."""
    return sorted(p for p in paths if not any(p != q and p.startswith(q) for q in paths))


def _narrowed(paths: list[str], within: str | None) -> list[str]:
    """Each path cut to the place filter: the filter's place if it lies below, else the path if it
    lies below the filter's place; paths beside it drop out."""
    if within is None:
        return paths
    return sorted(
        {within if within.startswith(p) else p for p in paths if within.startswith(p) or p.startswith(within)}
    )


def _at_and_below(paths: list[str]) -> list[Condition]:
    """Rows at each place itself (equality: read in order off an index), and rows strictly below any
    of them (one part); together exactly the ``path_range`` of each path. A grant's place holds its
    role's steps, so the first parts are nearly all of a 待认领 list and the last nearly all of a
    county's view. Paths must not cover one another (``_covering``), so the parts are disjoint."""
    if not paths:
        return []
    column = tasks.c.division_path
    below = sa.or_(*(sa.and_(column > p, column < p[:-1] + "0") for p in paths))
    return [column == p for p in paths] + [below]


def disjoint_parts(
    principal: Principal, scope: str, state: str | None, within: str | None, states: tuple[str, ...]
) -> list[Condition] | None:
    """The scope (and place filter) as disjoint conditions whose union is exactly
    ``worklist.scope_condition`` within ``within``, each matching an index in the page's order;
    None for the scopes of a person's own rows (few: one condition and a sort is the fast plan)."""
    if scope == "candidate":
        base = (tasks.c.state == "open", tasks.c.assignee.is_(None))
        if principal.is_admin:
            if within is None:
                return None
            return [sa.and_(*base, part) for part in _at_and_below([within])]
        by_role: dict[str, set[str]] = {}
        for g in principal.grants:
            if g.division_path:
                by_role.setdefault(g.role, set()).add(g.division_path)
        return [
            sa.and_(*base, tasks.c.role == role, part)
            for role, paths in sorted(by_role.items())
            for part in _at_and_below(_narrowed(_covering(paths), within))
        ]
    if scope == "all":
        if principal.is_admin:
            paths = [within] if within else None
        else:
            paths = _narrowed(
                _covering({g.division_path for g in principal.grants if g.division_path}), within
            )
        states = (state,) if state else states
        if paths is None:
            return [tasks.c.state == s for s in states]
        return [sa.and_(tasks.c.state == s, part) for s in states for part in _at_and_below(paths)]
    return None
