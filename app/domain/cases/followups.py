"""Cases the service starts by itself: periodic re-checks of enrolments (动态管理) when they
fall due, a termination after a re-check that decided to end support (asked for by the re-check's
end in ``case_followups``), and each month's case of every place a ``schedule = monthly`` process
is about (a school's reports). Each is started by the worker in a transaction of its own."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.engine import is_unavailable
from app.db.models import applications as applications_table
from app.db.models import case_followups, divisions
from app.domain.audit import Recorder
from app.domain.cases import applications
from app.domain.errors import DomainError, NotFound
from app.domain.money import ledger
from app.domain.people.principal import SYSTEM
from app.domain.programs import definitions
from app.domain.timekeeping import calendar
from app.metrics import FOLLOWUPS_FAILED
from app.shapes import RowLike

log = structlog.get_logger()


async def start(conn: AsyncConnection, program: str, about: dict[str, Any], rec: Recorder) -> dict[str, Any]:
    """Start ``program`` about the same enrolment as the case ``about`` (its ``subject_id``)."""
    body = applications.ApplicationIn(
        program=program, subject_id=about["subject_id"], data={"started_by_case": about["id"]}
    )
    _, created = await applications.create(conn, SYSTEM, body)
    rec.add(
        "case.followed_up",
        about["id"],
        {"program": program, "application_id": created["id"]},
        None,
        about["division_path"],
    )
    return created


# A follow-up that cannot start (its program refuses: a termination of this person already runs)
# is tried again once per worker round at the earliest, backing off (1, 2, 4, 8 minutes), and after
# MAX_FOLLOWUP_ATTEMPTS it is given up with a ``case.followup_failed`` event on the case that asked.
MAX_FOLLOWUP_ATTEMPTS = 5


@dataclass
class FollowUpRound:
    """One worker round: the requests tried in it (each at most once) and the cases started."""

    tried: set[int] = field(default_factory=set)
    started: int = 0


async def start_requested(conn: AsyncConnection, round_: FollowUpRound, limit: int = 20) -> int:
    """Start the follow-up cases finished cases asked for; returns how many requests were tried."""
    now = clock.now()
    query = (
        sa.select(case_followups)
        .where(
            case_followups.c.started_at.is_(None),
            case_followups.c.attempts < MAX_FOLLOWUP_ATTEMPTS,
            sa.or_(case_followups.c.retry_at.is_(None), case_followups.c.retry_at <= now),
            case_followups.c.id.not_in(round_.tried or {-1}),
        )
        .order_by(case_followups.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    requests = (await conn.execute(query)).mappings().all()
    for request in requests:
        round_.tried.add(request["id"])
        about = dict(
            (
                await conn.execute(
                    sa.select(applications_table).where(applications_table.c.id == request["application_id"])
                )
            )
            .mappings()
            .one()
        )
        rec = Recorder("system")
        try:
            async with conn.begin_nested():
                created = await start(conn, request["program"], about, rec)
                await rec.flush(conn)
        except Exception as exc:
            if is_unavailable(exc):  # the database itself: the round waits for it
                raise
            await _not_started(conn, request, about, exc)
        else:
            round_.started += 1
            await conn.execute(
                sa.update(case_followups)
                .where(case_followups.c.id == request["id"])
                .values(started_at=clock.now(), started_application_id=created["id"])
            )
    return len(requests)


async def _not_started(
    conn: AsyncConnection, request: RowLike, about: dict[str, Any], exc: Exception
) -> None:
    """Back off, or give up for good after MAX_FOLLOWUP_ATTEMPTS (the asking case's trail says so)."""
    attempts = request["attempts"] + 1
    # A domain refusal in our own words; anything else by its class only (its text may quote data).
    reason = (
        f"{exc.code}: {exc.detail}" if isinstance(exc, DomainError) else f"unexpected {type(exc).__name__}"
    )
    log.warning(
        "followup_not_started", application_id=about["id"], program=request["program"], reason=reason[:200]
    )
    values = {"attempts": attempts, "last_error": reason[:500]}
    if attempts < MAX_FOLLOWUP_ATTEMPTS:
        values["retry_at"] = clock.now() + timedelta(minutes=2 ** (attempts - 1))
    else:
        rec = Recorder("system")
        rec.add(
            "case.followup_failed",
            about["id"],
            {"program": request["program"], "attempts": attempts, "error": reason[:500]},
            None,
            about["division_path"],
        )
        await rec.flush(conn)
        FOLLOWUPS_FAILED.inc()
        log.error(
            "followup_failed", application_id=about["id"], program=request["program"], reason=reason[:200]
        )
    await conn.execute(sa.update(case_followups).where(case_followups.c.id == request["id"]).values(**values))


async def start_due_rechecks(conn: AsyncConnection, limit: int = 50) -> int:
    """Start a re-check case for every enrolment whose re-check date has come; returns how many
    enrolments were handled (each one's next date moves on, started or not)."""
    due = await ledger.due_rechecks(conn, calendar.today(), limit)
    for benefit in due:
        subject = await ledger.subject_of(conn, benefit["application_id"])
        definition = await definitions.by_id(conn, subject["definition_id"])
        program = definition.config.process.recheck_program
        months = (subject["settings"] or {}).get(f"recheck_months_{(benefit['category'] or '').lower()}")
        if not program or not isinstance(months, (int, float)) or months <= 0:
            await ledger.set_next_recheck(conn, benefit["id"], None)
            continue
        # The next date counts from the date due, not from when the worker got to it.
        await ledger.set_next_recheck(
            conn, benefit["id"], ledger.add_months(benefit["next_recheck_on"], int(months))
        )
        body = applications.ApplicationIn(
            program=program,
            subject_id=subject["id"],
            data={
                "recheck_due": benefit["next_recheck_on"].isoformat(),
                "current_amount": float(benefit["amount"]),
                "category": benefit["category"],
            },
        )
        try:
            async with conn.begin_nested():
                await applications.create(conn, SYSTEM, body)
        except DomainError as exc:  # e.g. a re-check or termination of this person is already running
            log.info("recheck_skipped", application_id=subject["id"], reason=exc.code)
    return len(due)


async def start_monthly_cases(conn: AsyncConnection, limit: int = 100) -> int:
    """This month's case for every place of a monthly program that has none yet (``external_ref``
    ``<place>:<YYYY-MM>``, unique per program, so racing workers cannot start one twice)."""
    month = calendar.today().strftime("%Y-%m")
    started = 0
    for listed in await definitions.list_latest(conn):
        definition = await definitions.latest(conn, listed["key"])
        if definition.config.process.schedule != "monthly" or not definition.division_levels:
            continue
        ref = divisions.c.code + sa.literal(f":{month}")
        done = sa.select(applications_table.c.id).where(
            applications_table.c.program == definition.key, applications_table.c.external_ref == ref
        )
        codes = (
            (
                await conn.execute(
                    sa.select(divisions.c.code)
                    .where(divisions.c.level.in_(sorted(definition.division_levels)), ~done.exists())
                    .order_by(divisions.c.code)
                    .limit(limit - started)
                )
            )
            .scalars()
            .all()
        )
        for code in codes:
            body = applications.ApplicationIn(
                program=definition.key,
                division_code=code,
                external_ref=f"{code}:{month}",
                data={"month": month},
            )
            try:
                async with conn.begin_nested():
                    await applications.create(conn, SYSTEM, body)
                started += 1
            except DomainError as exc:
                log.warning(
                    "monthly_case_not_started", program=definition.key, division_code=code, reason=exc.code
                )
        if started >= limit:
            break
    return started


async def failed(conn: AsyncConnection, limit: int = 200) -> list[dict[str, Any]]:
    """Follow-ups given up after MAX_FOLLOWUP_ATTEMPTS refusals (newest first), for an administrator."""
    rows = await conn.execute(
        sa.select(
            case_followups.c.id,
            case_followups.c.application_id,
            case_followups.c.program,
            case_followups.c.requested_at,
            case_followups.c.attempts,
            case_followups.c.last_error,
            applications_table.c.number.label("case_number"),
        )
        .join(applications_table, applications_table.c.id == case_followups.c.application_id)
        .where(case_followups.c.started_at.is_(None), case_followups.c.attempts >= MAX_FOLLOWUP_ATTEMPTS)
        .order_by(case_followups.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in rows.mappings()]


async def retry(conn: AsyncConnection, followup_id: int, actor: str) -> dict[str, Any]:
    """An administrator asks the worker to try a given-up follow-up again (once what refused it is
    settled: the other termination ended, the program deployed again)."""
    row = (
        await conn.execute(
            sa.update(case_followups)
            .where(
                case_followups.c.id == followup_id,
                case_followups.c.started_at.is_(None),
                case_followups.c.attempts >= MAX_FOLLOWUP_ATTEMPTS,
            )
            .values(attempts=0, retry_at=None)
            .returning(case_followups.c.application_id, case_followups.c.program)
        )
    ).first()
    if row is None:
        raise NotFound("followup_not_failed", f"no given-up follow-up {followup_id}")
    about = (
        await conn.execute(
            sa.select(applications_table.c.division_path).where(applications_table.c.id == row.application_id)
        )
    ).one()
    rec = Recorder(actor)
    rec.add("case.followup_retried", row.application_id, {"program": row.program}, None, about.division_path)
    await rec.flush(conn)
    return {"id": followup_id, "application_id": row.application_id, "program": row.program, "status": "due"}
