"""How a case and its tasks are shown to callers (API answers, pages): plain dicts of stable fields."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import tasks
from app.domain.timekeeping import calendar
from app.shapes import RowLike

TASK_FIELDS = (
    "id",
    "application_id",
    "name",
    "title",
    "role",
    "division_code",
    "assignee",
    "state",
    "created_at",
    "due_at",
    "due_basis",
    "completed_at",
    "completed_by",
    "form",
    "program",
    "note",
    "case_number",
    "delegated_to",
)


def task_view(row: RowLike, days: calendar.WorkingDays | None = None) -> dict[str, Any]:
    """A task as the API shows it; with a calendar, also whether it is late and working days left."""
    view = {k: row[k] for k in TASK_FIELDS}
    due = row["due_at"]
    view["overdue"] = bool(row["state"] == "open" and due is not None and due < clock.now())
    if days is not None:
        view["working_days_left"] = (
            days.count(calendar.today(), due.astimezone(calendar.SHANGHAI).date()).value
            if due is not None and row["state"] == "open"
            else None
        )
    return view


def listed_task_view(row: RowLike, days: calendar.WorkingDays | None, reader: str) -> dict[str, Any]:
    """A row of an inbox list: its ``note`` (opinions of 委派, 退回 reasons, a decision waiting for
    signers) only for the step's holder or delegate. Anyone else opens the step (``GET /tasks/{id}``),
    which answers by the case's privacy rule: a list of a place's steps spans departments."""
    view = task_view(row, days)
    if reader not in (row["assignee"], row["delegated_to"]):
        view["note"] = None
    return view


def application_view(row: RowLike, open_tasks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "number": row.get("number"),
        "program": row["program"],
        "definition_version": row["definition_version"],
        "division_code": row["division_code"],
        "status": row["status"],
        "applicant": row["applicant"],
        "external_ref": row["external_ref"],
        "data": row["data"],
        "family_id": row["family_id"],
        "subject_id": row["subject_id"],
        "settings": row["settings"],
        "open_tasks": open_tasks if open_tasks is not None else [],
        "case_due_at": row["case_due_at"],
        "case_due_basis": row["case_due_basis"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "ended_at": row["ended_at"],
        "personal_data": "full",  # "masked" for a reader of the place only (cases.privacy)
    }


async def open_tasks_of(
    conn: AsyncConnection, application_id: str, days: calendar.WorkingDays | None = None
) -> list[dict[str, Any]]:
    return (await open_tasks_of_many(conn, [application_id], days))[application_id]


async def open_tasks_of_many(
    conn: AsyncConnection, application_ids: list[str], days: calendar.WorkingDays | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The open tasks of several cases in one query (a list page must not ask once per case)."""
    by_case: dict[str, list[dict[str, Any]]] = {application_id: [] for application_id in application_ids}
    if not application_ids:
        return by_case
    rows = await conn.execute(
        sa.select(tasks)
        .where(tasks.c.application_id.in_(application_ids), tasks.c.state == "open")
        .order_by(tasks.c.created_at, tasks.c.id)
    )
    days = days or await calendar.load(conn)
    for row in rows.mappings():
        by_case[row["application_id"]].append(task_view(row, days))
    return by_case
