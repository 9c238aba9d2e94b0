"""Cases the service starts by itself: periodic re-checks of enrolments (动态管理) when they
fall due, and a termination after a re-check that decided to end support."""

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain import applications, calendar, definitions, ledger
from app.domain.audit import Recorder
from app.domain.errors import DomainError
from app.domain.principal import SYSTEM

log = structlog.get_logger()


async def start(conn: AsyncConnection, program: str, about: dict, rec: Recorder) -> dict:
    """Start ``program`` about the same enrolment as the case ``about`` (its ``subject_id``)."""
    body = applications.ApplicationIn(program=program, subject_id=about["subject_id"],
                                      data={"started_by_case": about["id"]})
    _, created = await applications.create(conn, SYSTEM, body)
    rec.add("case.followed_up", about["id"], {"program": program, "application_id": created["id"]}, None,
            about["division_path"])
    return created


async def start_due_rechecks(conn: AsyncConnection, limit: int = 50) -> int:
    """Start a re-check case for every enrolment whose re-check date has come; returns how many
    enrolments were handled (each one's next date moves on, started or not)."""
    due = await ledger.due_rechecks(conn, calendar.today(), limit)
    for benefit in due:
        subject = await ledger.subject_of(conn, benefit["application_id"])
        definition = await definitions.by_id(conn, subject["definition_id"])
        program = definition.model.properties.get("recheck_program")
        months = (subject["settings"] or {}).get(f"recheck_months_{(benefit['category'] or '').lower()}")
        if not program or not isinstance(months, (int, float)) or months <= 0:
            await ledger.set_next_recheck(conn, benefit["id"], None)
            continue
        # The next date counts from the date due, not from when the worker got to it.
        await ledger.set_next_recheck(conn, benefit["id"], ledger.add_months(benefit["next_recheck_on"], int(months)))
        body = applications.ApplicationIn(program=program, subject_id=subject["id"],
                                          data={"due_on": benefit["next_recheck_on"].isoformat(),
                                                "current_amount": float(benefit["amount"]),
                                                "category": benefit["category"]})
        try:
            async with conn.begin_nested():
                await applications.create(conn, SYSTEM, body)
        except DomainError as exc:  # e.g. a re-check or termination of this person is already running
            log.info("recheck_skipped", application_id=subject["id"], reason=exc.code)
    return len(due)
