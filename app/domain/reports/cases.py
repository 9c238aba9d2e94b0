"""The cases behind a number (issue 21: drill down to the list). A figure of a month is found again
in the audit trail (the same events that counted it, ``metrics``), the figures "now" in the live
tables; only cases the caller sees (grants) of the programs it reads are listed, and each as a short,
masked row: who wants the whole case opens it (``GET /applications/{id}``, with its own checks)."""

from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import applications, benefits, events, notice_entries, tasks
from app.domain.errors import Invalid
from app.domain.people.principal import Principal, path_range
from app.domain.reports import metrics
from app.domain.reports.figures import Scope

_OUTCOME = {s: s for s in metrics.OUTCOMES}


def _event(type_: str, *where: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    return sa.and_(events.c.type == type_, *where)


def _data(key: str) -> sa.ColumnElement[str]:
    found: sa.ColumnElement[str] = events.c.data[key].as_string()
    return found


def _outcome(status: str) -> sa.ColumnElement[bool]:
    return sa.or_(
        _event(f"application.{status}"), _event("application.status_changed", _data("to") == status)
    )


# A figure of a month → the events that counted it (at the case's place).
BY_EVENTS: dict[str, sa.ColumnElement[bool]] = {
    "received": _event("application.submitted"),
    "accepted": _event(
        "task.completed", events.c.task_name == metrics.ACCEPT_STEP, _data("decision") == "accept"
    ),
    **{status: _outcome(status) for status in metrics.OUTCOMES},
    "objections_received": _event("objection.received"),
    "objections_upheld": _event("objection.answered", _data("outcome") == "upheld"),
    "notices_opened": _event("notice.opened"),
    "notices_closed": events.c.type.in_(("notice.closed", "notice.objected")),
    "enrolments_started": _event("benefit.recorded", _data("kind") == "monthly"),
    "enrolments_ended": _event("enrolment.ended"),
}
# Figures of now: the cases the live tables hold in that state.
NOW = ("in_notice", "enrolments_active", "overdue_now")
FIGURES = (*BY_EVENTS, *NOW)


def mask_name(name: str) -> str:
    """张三 → 张* (as on a public notice; compound surnames are the notice's business, not a list's)."""
    name = name.strip()
    return name[:1] + "*" * (len(name) - 1)


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * 8 + value[-4:] if len(value) == 18 else "*" * len(value)


def _month_window(month: date) -> tuple[datetime, datetime]:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return (
        datetime.combine(month, time(0), metrics.SHANGHAI),
        datetime.combine(following, time(0), metrics.SHANGHAI),
    )


def _cases_of(figure: str, month: date | None) -> tuple[sa.Select[Any], sa.ColumnElement[Any]]:
    """Application ids behind a figure, with the time each counted (for ordering and showing)."""
    if figure in BY_EVENTS:
        if month is None:
            raise Invalid("month_required", "name the month (YYYY-MM) of the figure")
        start, end = _month_window(month)
        counted = sa.func.max(events.c.at)
        return (
            sa.select(events.c.application_id.label("id"), counted.label("counted_at"))
            .where(BY_EVENTS[figure], events.c.at >= start, events.c.at < end)
            .group_by(events.c.application_id),
            counted,
        )
    if figure == "in_notice":
        since = sa.func.max(notice_entries.c.created_at)
        return (
            sa.select(notice_entries.c.application_id.label("id"), since.label("counted_at"))
            .where(notice_entries.c.status == "listed")
            .group_by(notice_entries.c.application_id),
            since,
        )
    if figure == "enrolments_active":
        since = sa.func.max(benefits.c.created_at)
        return (
            sa.select(benefits.c.application_id.label("id"), since.label("counted_at"))
            .where(benefits.c.kind == "monthly", benefits.c.status == "active")
            .group_by(benefits.c.application_id),
            since,
        )
    if figure == "overdue_now":
        due = sa.func.min(tasks.c.due_at)
        return (
            sa.select(tasks.c.application_id.label("id"), due.label("counted_at"))
            .where(tasks.c.state == "open", tasks.c.due_at < clock.now())
            .group_by(tasks.c.application_id),
            due,
        )
    raise Invalid("invalid_figure", f"figure must be one of {', '.join(FIGURES)}", allowed=list(FIGURES))


async def behind(
    conn: AsyncConnection,
    principal: Principal,
    where: Scope,
    figure: str,
    month: date | None,
    *,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """One page of the cases behind ``figure`` at the scope's place (and program), newest first."""
    found, _ = _cases_of(figure, month)
    found_q = found.subquery()
    query = (
        sa.select(
            applications.c.id,
            applications.c.number,
            applications.c.program,
            applications.c.division_code,
            applications.c.status,
            applications.c.applicant,
            applications.c.created_at,
            found_q.c.counted_at,
        )
        .join(found_q, found_q.c.id == applications.c.id)
        .where(
            path_range(applications.c.division_path, where.path),
            principal.visible(applications.c.division_path),
            *where.program_filter(applications.c.program),
        )
        .order_by(found_q.c.counted_at.desc(), applications.c.id)
        .limit(limit + 1)
        .offset(offset)
    )
    rows = (await conn.execute(query)).mappings().all()
    return {
        "place": {"code": where.code, "name": where.name},
        "program": where.program,
        "figure": figure,
        "month": month.strftime("%Y-%m") if month else None,
        "items": [_row(r) for r in rows[:limit]],
        "limit": limit,
        "offset": offset,
        "has_more": len(rows) > limit,
    }


def _row(r: Any) -> dict[str, Any]:
    applicant = r["applicant"] if isinstance(r["applicant"], dict) else {}
    return {
        "id": r["id"],
        "number": r["number"],
        "program": r["program"],
        "division_code": r["division_code"],
        "status": r["status"],
        "applicant_name": mask_name(str(applicant.get("name") or "")),
        "applicant_id_number": mask_id_number(str(applicant.get("id_number") or "")),
        "submitted_at": r["created_at"],
        "counted_at": r["counted_at"],
    }
