"""Who reads a case's materials (材料: ID cards, household registers, bank cards, medical records) —
stricter than who reads the case. Seeing a place is not enough: the county education bureau sees the
低保 cases of its county (their numbers, where they stand) but does not open an applicant's diagnosis.

- an administrator reads every document;
- staff whose grant covers the case's place and whose department works on the case's program
  (``programs.departments``, the rule reports use), at any level above the case too;
- whoever the case's open step is assigned to, delegated to (委派), waiting for the signature of (加签,
  会签) or claimable by (its role at its place, unassigned): they review the documents, whatever their
  department;
- the portal that submitted the case reads the documents it uploaded itself, not the reviewers'.

Copies (抄送) let their addressees read the case, not its documents (unless a rule above holds).
Deciding costs one statement per request whatever the number of documents (the program's
definitions and the case's open steps together), and nothing is kept between requests.
"""

from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import tasks
from app.domain.people.divisions import role_department
from app.domain.people.principal import Principal
from app.domain.programs import departments
from app.domain.tasks import signers

Row = dict[str, Any]


class Reading(Enum):
    ALL = "all"  # every document of the case
    OWN_UPLOADS = "own_uploads"  # a portal: the documents it uploaded


def _departments_covering(principal: Principal, path: str) -> set[str]:
    return {
        department
        for g in principal.grants
        if g.role != "portal" and g.division_path and path.startswith(g.division_path)
        if (department := role_department(g.role)) is not None
    }


def _holds(principal: Principal, step: sa.Row[Any]) -> bool:
    if principal.is_user(step.assignee) or principal.is_user(step.delegated_to) or step.signing:
        return True
    return step.assignee is None and principal.can_act(step.role, step.division_path)


async def reading(conn: AsyncConnection, principal: Principal, case: Row) -> Reading | None:
    """What of ``case`` (a row the caller may already read) the caller reads of its materials."""
    if principal.is_admin:
        return Reading.ALL
    if principal.kind == "api_key":
        return Reading.OWN_UPLOADS if case["created_by"] == principal.name else None
    # One statement: the program's deployed versions (rows with a definition id) and the case's open
    # steps (rows with a role), so a refused caller costs no more round trips than an allowed one.
    definition_rows = departments.DEFINITIONS.add_columns(
        sa.null().label("role"),
        sa.null().label("division_path"),
        sa.null().label("assignee"),
        sa.null().label("delegated_to"),
        sa.null().label("signing"),
    ).where(departments.DEFINITIONS.selected_columns.key == case["program"])
    step_rows = sa.select(
        sa.null(),
        sa.null(),
        tasks.c.role,
        tasks.c.division_path,
        tasks.c.assignee,
        tasks.c.delegated_to,
        # A signer (加签, 会签) whose turn it is decides on the same papers as the holder.
        (
            tasks.c.id.in_(signers.waiting_for(principal.name)) if principal.kind == "user" else sa.false()
        ).label("signing"),
    ).where(tasks.c.application_id == case["id"], tasks.c.state == "open")
    rows = (await conn.execute(sa.union_all(definition_rows, step_rows))).all()
    mine = _departments_covering(principal, case["division_path"])
    if mine:
        working = await departments.of_definitions(conn, [(r[0], r[1]) for r in rows if r[0] is not None])
        if any(case["program"] in working.get(department, set()) for department in mine):
            return Reading.ALL
    if any(_holds(principal, r) for r in rows if r.role is not None):
        return Reading.ALL
    return None


def may_read_document(principal: Principal, how: Reading, row: Row) -> bool:
    """Whether the caller, reading the case's materials as ``how``, reads this document."""
    if how is Reading.ALL:
        return True
    return bool(row["uploaded_by_kind"] == principal.kind and row["uploaded_by"] == principal.name)
