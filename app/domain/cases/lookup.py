"""Finding and reading cases as the caller may see them: by id or number, the case list and search,
the timeline, and the applicants behind a list of cases (masked where the caller may not see them)."""

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import applications, events, tasks
from app.domain.cases import numbers as case_numbers
from app.domain.cases import privacy, views
from app.domain.errors import Invalid, NotFound
from app.domain.people import divisions as division_service
from app.domain.people.directory import Directory
from app.domain.people.principal import Principal
from app.domain.tasks import copies
from app.domain.timekeeping import calendar

STATUSES = ("in_progress", "approved", "refused", "withdrawn", "terminated")


async def load_row(
    conn: AsyncConnection, principal: Principal, application_id: str, *, reading: bool = False
) -> dict[str, Any]:
    """A case by its id or its number (DB-340621-2026-000123), as the caller may see it; ``reading``
    adds whether the caller reads its personal data (``privacy.READABLE``, one more statement)."""
    key = applications.c.number if case_numbers.PATTERN.match(application_id) else applications.c.id
    query = sa.select(applications).where(key == application_id)
    if reading:
        query = query.add_columns((await privacy.condition(conn, principal)).label(privacy.READABLE))
    row = (await conn.execute(query)).mappings().first()
    # A case outside the caller's places answers exactly like one that does not exist,
    # unless it was copied to them (抄送).
    if row is None or not (
        principal.can_see(row["division_path"]) or await copies.can_read_copy(conn, principal, row["id"])
    ):
        raise NotFound("application_not_found", f"no application {application_id!r}")
    return dict(row)


async def view_of(conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    """The case as its reader may see it, from a row loaded with ``reading=True``."""
    return privacy.shown(row, views.application_view(row, await views.open_tasks_of(conn, row["id"])))


async def get(conn: AsyncConnection, principal: Principal, application_id: str) -> dict[str, Any]:
    return await view_of(conn, await load_row(conn, principal, application_id, reading=True))


ID_NUMBER = re.compile(r"^[0-9]{17}[0-9Xx]$")
CASE_ID_PREFIX = re.compile(r"^[0-9a-fA-F-]{8,36}$")


def _matching(q: str, readable: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """案件查询: a case number or a case id (its beginning, as the pages show it) finds the case; an
    ID number (exactly) or part of the applicant's name finds a person, so only among the cases the
    caller reads in full (``readable``)."""
    q = q.strip()
    if case_numbers.PATTERN.match(q.upper()):
        return applications.c.number == q.upper()
    if ID_NUMBER.match(q):
        return sa.and_(applications.c.applicant_id_number == q.upper(), readable)
    name = applications.c.applicant["name"].as_string().contains(q, autoescape=True)
    person: sa.ColumnElement[bool] = sa.and_(name, readable)
    if CASE_ID_PREFIX.match(q):
        return sa.or_(applications.c.id.startswith(q.lower(), autoescape=True), person)
    return person


async def list_(
    conn: AsyncConnection,
    principal: Principal,
    *,
    program: str | None,
    division_code: str | None,
    status: str | None,
    limit: int,
    offset: int,
    q: str | None = None,
    step: str | None = None,
    submitted_from: date | None = None,
    submitted_to: date | None = None,
) -> dict[str, Any]:
    """Cases at or below the caller's places, newest first, with the filters of 案件查询; each masked
    unless the caller reads its personal data (``privacy``), and a search by ID number or name finds
    only the cases the caller reads in full."""
    readable = await privacy.condition(conn, principal)
    query = sa.select(applications, readable.label(privacy.READABLE)).where(
        principal.visible(applications.c.division_path)
    )
    if q and q.strip():
        query = query.where(_matching(q, readable))
    if step:  # where the case is now: an open step of that name
        query = query.where(
            sa.exists().where(
                tasks.c.application_id == applications.c.id, tasks.c.state == "open", tasks.c.name == step
            )
        )
    if submitted_from:
        query = query.where(
            applications.c.created_at >= datetime.combine(submitted_from, time(0), calendar.SHANGHAI)
        )
    if submitted_to:
        query = query.where(
            applications.c.created_at
            < datetime.combine(submitted_to + timedelta(days=1), time(0), calendar.SHANGHAI)
        )
    if program:
        query = query.where(applications.c.program == program)
    if status:
        if status not in STATUSES:
            raise Invalid("invalid_status", f"status must be one of {STATUSES}")
        query = query.where(applications.c.status == status)
    if division_code:
        query = query.where(
            await division_service.at_or_below(conn, applications.c.division_path, division_code)
        )
    rows = (
        (
            await conn.execute(
                query.order_by(applications.c.created_at.desc(), applications.c.id)
                .limit(limit + 1)
                .offset(offset)
            )
        )
        .mappings()
        .all()
    )
    page = rows[:limit]
    open_tasks = await views.open_tasks_of_many(conn, [r["id"] for r in page])
    return {
        "items": [privacy.shown(r, views.application_view(r, open_tasks[r["id"]])) for r in page],
        "limit": limit,
        "offset": offset,
        "has_more": len(rows) > limit,
    }


# Events the service records for its own bookkeeping: a timer started or fired (its effect has its
# own event: notice.closed, task.overdue…), a message arrived (what it did is recorded too), a
# deadline recomputed for a new calendar, a case moved to a new version. Reviewers' timelines leave
# them out; the API history and the audit trail keep them for administrators.
INTERNAL_EVENTS = frozenset(
    {
        "timer.scheduled",
        "timer.fired",
        "timer.rescheduled",
        "timer.failed",
        "timer.retried",
        "message.received",
        "message.kept",
        "task.deadline_recomputed",
        "application.deadline_recomputed",
        "application.migrated",
        "case.followup_failed",
        "case.followup_retried",
    }
)


# Where events name people besides their actor (转办 from/to, 委派 to, 加签 usernames…): loaded with
# the actors, so a page shows them as people without asking again.
PEOPLE_IN_EVENTS: dict[str, tuple[str, ...]] = {
    "task.transferred": ("from", "to"),
    "task.delegated": ("to",),
    "task.resolved": ("holder",),
    "task.assigned": ("assignee", "previous_assignee"),
    "task.unclaimed": ("previous_assignee",),
    "task.claim_released": ("previous_assignee",),
    "task.signers_added": ("usernames",),
    "task.signer_removed": ("username",),
    "case.copied": ("usernames",),
}


def people_in(event_type: str, data: dict[str, Any] | None) -> list[str]:
    """The logins an event's data names, in the order of ``PEOPLE_IN_EVENTS``."""
    found: list[str] = []
    for key in PEOPLE_IN_EVENTS.get(event_type, ()):
        value = (data or {}).get(key)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            found += [v for v in value if isinstance(v, str)]
    return found


async def timeline(
    conn: AsyncConnection,
    principal: Principal,
    application_id: str,
    *,
    internal: bool = True,
    directory: Directory | None = None,
    personal: bool | None = None,
) -> list[dict[str, Any]]:
    """The case's events, oldest first, each with its actor as a person (``actor_display``);
    ``internal=False`` leaves out ``INTERNAL_EVENTS`` (the reviewer's timeline). A caller who may not
    read the personal data (``personal``: decided here unless the caller did) gets each event's data
    cut to the staff it names: no opinion, reason or form."""
    row = await load_row(conn, principal, application_id, reading=personal is None)
    application_id, personal = row["id"], row[privacy.READABLE] if personal is None else personal
    query = sa.select(events).where(events.c.application_id == application_id)
    if not internal:
        query = query.where(events.c.type.not_in(sorted(INTERNAL_EVENTS)))
    rows = (await conn.execute(query.order_by(events.c.id))).all()
    directory = directory or Directory()
    await directory.load(
        conn, [r.actor for r in rows] + [login for r in rows for login in people_in(r.type, r.data)]
    )
    return [
        {
            "at": r.at,
            "actor": r.actor,
            "actor_display": directory.view(r.actor),
            "type": r.type,
            "internal": r.type in INTERNAL_EVENTS,
            "task": r.task_name,
            "task_id": r.task_id,
            "data": r.data if personal else _staff_named(r.type, r.data),
        }
        for r in rows
    ]


def _staff_named(event_type: str, data: dict[str, Any] | None) -> dict[str, Any]:
    """What a masked reader keeps of an event's data: the staff it names (转办 to whom…)."""
    return {k: v for k, v in (data or {}).items() if k in PEOPLE_IN_EVENTS.get(event_type, ())}


async def applicants(
    conn: AsyncConnection, application_ids: Iterable[str]
) -> dict[str, dict[str, Any] | None]:
    """Application id → applicant (name, id_number, phone) for a page of inbox rows, in one query."""
    ids = sorted(set(application_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        sa.select(applications.c.id, applications.c.applicant).where(applications.c.id.in_(ids))
    )
    return {r.id: r.applicant for r in rows}
