"""Who reads a case's personal data — the applicant's name, ID number and phone, the application's form
data (household members, incomes, addresses, bank details), its family, the step opinions and data,
its benefits and payments. Seeing the case's place is not enough: the county education bureau sees the
低保 cases of its county (where they stand, who holds them, how late they are) with the applicant
masked (王*, 340621********1234) and nothing else personal; it cannot find a person by ID number or
name either (``lookup``, the inbox search).

In full (the rule of the case's materials, ``materials.access``, plus copies and payments):

- an administrator;
- staff whose grant covers the case's place and whose department works on the case's program
  (``programs.departments``: some deployed version gives work to a role of that department);
- whoever an open step of the case is assigned to, delegated to (委派), waiting for the signature of
  (加签, 会签) or claimable by (its role at its place, unassigned), whatever their department;
- whoever the case was copied to (抄送), by name or by a role they hold at the copy's place;
- the county finance office of the case's place, once the case has entries in the benefits ledger:
  it approves the payments to that person (``money.offices``);
- the portal (API key) that submitted the case.

The rule is one SQL condition over ``applications``: a case page adds it as a column to the statement
that loads the case, a list or a search as a filter and a column of its one statement. Building it
reads the deployed definitions (id and program) once — the only statement the check adds to a
request, none for an administrator or a portal — and keeps nothing between requests.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import applications, benefits, case_copies, tasks
from app.domain.errors import Forbidden
from app.domain.money.offices import FINANCE
from app.domain.notices.publication import mask_name
from app.domain.people.divisions import role_department
from app.domain.people.principal import Principal, path_range
from app.domain.programs import departments
from app.domain.tasks import copies, signers

READABLE = "personal_data_readable"  # the column a loaded case row carries the decision in


def _staff_grants(principal: Principal) -> list[tuple[str, str]]:
    return [(g.role, g.division_path) for g in principal.grants if g.role != "portal" and g.division_path]


async def condition(conn: AsyncConnection, principal: Principal) -> sa.ColumnElement[bool]:
    """SQL over ``applications``: the caller reads the case's personal data."""
    if principal.is_admin:
        return sa.true()
    me = applications.c
    parts: list[sa.ColumnElement[bool]] = []
    if principal.kind == "api_key":
        parts.append(me.created_by == principal.name)
    staff = _staff_grants(principal)
    if staff:
        working = await departments.departments_programs(conn)
        for role, path in staff:
            programs = working.get(role_department(role) or "", set())
            if programs:
                parts.append(sa.and_(path_range(me.division_path, path), me.program.in_(sorted(programs))))
            if role == FINANCE:
                paid = sa.exists().where(benefits.c.application_id == me.id)
                parts.append(sa.and_(path_range(me.division_path, path), paid))
    # Its own name for the case's steps: a list of tasks (the inbox) may wrap this condition.
    step = tasks.alias("held_step")
    holds = [sa.and_(step.c.assignee.is_(None), principal.actionable(step.c.role, step.c.division_path))]
    if principal.kind == "user":
        holds += [
            step.c.assignee == principal.name,
            step.c.delegated_to == principal.name,
            step.c.id.in_(signers.waiting_for(principal.name)),
        ]
    parts.append(sa.exists().where(step.c.application_id == me.id, step.c.state == "open", sa.or_(*holds)))
    parts.append(sa.exists().where(case_copies.c.application_id == me.id, copies.copied_to(principal)))
    return sa.or_(sa.false(), *parts)


async def load_case(conn: AsyncConnection, principal: Principal, application_id: str) -> sa.RowMapping:
    """A case (the caller already may see it) with the ``READABLE`` column."""
    readable = (await condition(conn, principal)).label(READABLE)
    query = sa.select(applications, readable).where(applications.c.id == application_id)
    return (await conn.execute(query)).mappings().one()


def mask_id_number(value: str) -> str:
    """The place (first 6) and the last 4 characters: 340621********1234, as the web pages show it."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def masked(view: dict[str, Any]) -> dict[str, Any]:
    """A case view (``views.application_view``) for a reader of the place who may not read the person."""
    applicant = view.get("applicant")
    if isinstance(applicant, dict):
        applicant = {
            "name": mask_name(str(applicant.get("name") or "")),
            "id_number": mask_id_number(str(applicant.get("id_number") or "")),
            "phone": None,
        }
    # A step's note keeps what reviewer actions left on it (委派 opinions, 退回 reasons): withheld too.
    steps = [{**t, "note": None} for t in view.get("open_tasks", [])]
    return {
        **view,
        "applicant": applicant,
        "data": {},
        "family_id": None,
        "open_tasks": steps,
        "personal_data": "masked",
    }


def shown(row: Any, view: dict[str, Any]) -> dict[str, Any]:
    """The view of a row loaded with the ``READABLE`` column, masked when it says so."""
    return view if row[READABLE] else masked(view)


def require(readable: bool) -> None:
    """For what is personal through and through (benefits, payments): refuse instead of masking."""
    if not readable:
        raise Forbidden(
            "personal_data_not_readable",
            "the case's personal data is read only by the offices working on its program, "
            "whom its open step waits for and whom it was copied to",
        )
