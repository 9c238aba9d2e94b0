"""Inbox pages read as disjoint parts in the page's order (domain/tasks/worklist.inbox) list exactly the
rows, in exactly the order, of the one condition each scope is defined by (``scope_condition``), on
both databases: for grants that nest, places holding rows below them, every state, place filter and
sort, and page by page."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.db.engine import create_engine
from app.db.models import divisions, tasks
from app.domain.people import accounts
from app.domain.people.principal import SYSTEM, GrantScope, Principal, path_range
from app.domain.tasks import signers, worklist
from tests.helpers import Api

PLACES = ["34", "3406", "340621", "340621100", "340621101", "340621100201", "340621101201", "340622"]
ROLES = ["township_civil_affairs", "county_civil_affairs", "village_civil_affairs"]
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _rows(application_id: str, paths: dict[str, str]) -> list[dict]:
    """Every combination of place, role, state and holder, with shared and missing deadlines and
    shared arrival times, so the order's tie-breakers decide."""
    rows = []
    combos = itertools.product(PLACES, ROLES, ("open", "completed", "cancelled"), (None, "town_a", "county"))
    for i, (code, role, state, holder) in enumerate(combos):
        rows.append(
            {
                "id": str(uuid.UUID(int=(i * 7919) % 10**6)),
                "application_id": application_id,
                "program": "dibao" if i % 3 else "tekun",
                "engine_task_id": str(uuid.uuid4()),
                "name": "initial_review",
                "title": "初审",
                "role": role,
                "division_code": code,
                "division_path": paths[code],
                "state": state,
                "assignee": holder,
                "completed_by": holder if state == "completed" else None,
                "delegated_to": "town_a" if i % 17 == 0 and state == "open" else None,
                "created_at": T0 + timedelta(hours=i % 4),
                "due_at": None if i % 5 == 0 else T0 + timedelta(days=i % 6),
                "completed_at": T0 + timedelta(days=i % 3) if state == "completed" else None,
            }
        )
    return rows


def _principals(people: dict[str, Principal], paths: dict[str, str]) -> dict[str, Principal]:
    def grant(role, code):
        return GrantScope(role, code, paths[code])

    return {
        **people,
        "admin": SYSTEM,
        # Grants that nest (a county's and one of its townships'), roles at places not of their level,
        # and a place with rows below it: what no real account holds, but the SQL must still answer.
        "nested": Principal(
            "nested",
            "user",
            (
                grant("township_civil_affairs", "340621"),
                grant("township_civil_affairs", "340621100"),
                grant("village_civil_affairs", "340621100"),
                grant("county_civil_affairs", "3406"),
                grant("county_civil_affairs", "340622"),
            ),
        ),
        "key": Principal("key", "api_key", (grant("township_civil_affairs", "340621101"),)),
    }


async def _reference(conn, me: Principal, scope: str, state, within, sort: str, program=None) -> list[str]:
    """The page's rows as one condition, sorted: what the inbox listed before it was split in parts."""
    if scope == "mine":  # the condition as it was written before: one OR
        condition = sa.and_(
            tasks.c.state == (state or "open"),
            sa.or_(
                me.personal(tasks.c.assignee),
                me.personal(tasks.c.delegated_to),
                tasks.c.id.in_(signers.waiting_for(me.name)) if me.kind == "user" else sa.false(),
            ),
        )
    else:
        condition = worklist.scope_condition(me, scope, state)
    query = sa.select(tasks.c.id).where(condition)
    if within:
        query = query.where(path_range(tasks.c.division_path, within))
    if program:
        query = query.where(tasks.c.program == program)
    order = (*worklist.SORTS[sort](tasks.c), tasks.c.created_at, tasks.c.id)
    return list((await conn.execute(query.order_by(*order))).scalars())


async def test_pages_list_the_same_rows_in_the_same_order_as_one_condition(api: Api):
    case = await api.apply()
    db = create_engine(api.database_url)
    try:
        async with db.begin() as conn:
            paths = dict((await conn.execute(sa.select(divisions.c.code, divisions.c.path))).all())
            await conn.execute(sa.delete(tasks).where(tasks.c.application_id != case["id"]))
            await conn.execute(sa.insert(tasks), _rows(case["id"], paths))
            people = {u: await accounts.principal_for_user(conn, u) for u in ("town_a", "town_b", "county")}
        checked = 0
        async with db.connect() as conn:
            for name, me in _principals(people, paths).items():
                for scope, state, code, sort in itertools.product(
                    ("candidate", "all", "mine"),
                    (None, "open", "completed", "cancelled"),
                    (None, "34", "340621", "340621100", "340621100201", "340622"),
                    worklist.SORTS,
                ):
                    if scope == "candidate" and state is not None:
                        continue  # 待认领 is open steps whatever the state parameter says
                    if scope == "mine" and code is not None:
                        continue
                    within = paths[code] if code else None
                    expected = await _reference(conn, me, scope, state, within, sort)
                    args = {
                        "scope": scope,
                        "program": None,
                        "division_code": code,
                        "overdue": None,
                        "state": state,
                    }
                    page = await worklist.inbox(conn, me, **args, limit=500, offset=0, sort=sort)
                    assert [t["id"] for t in page["items"]] == expected, (name, scope, state, code, sort)
                    assert page["has_more"] is False
                    checked += bool(expected)
                    if sort != "due_at":
                        continue
                    # Page by page (7 rows, then 7 from offset 7…) the same rows, none twice or missing.
                    listed, offset = [], 0
                    while True:
                        page = await worklist.inbox(conn, me, **args, limit=7, offset=offset, sort=sort)
                        listed += [t["id"] for t in page["items"]]
                        if not page["has_more"]:
                            break
                        offset += 7
                    assert listed == expected, ("pages", name, scope, state, code)
                # A filter on the program is applied to every part.
                expected = await _reference(conn, me, "all", None, None, "due_at", program="tekun")
                page = await worklist.inbox(
                    conn,
                    me,
                    scope="all",
                    program="tekun",
                    division_code=None,
                    overdue=None,
                    state=None,
                    limit=500,
                    offset=0,
                )
                assert [t["id"] for t in page["items"]] == expected, (name, "program")
        assert checked > 150  # most combinations list rows: the comparison is not between empty lists
    finally:
        await db.dispose()
