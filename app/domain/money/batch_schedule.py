"""The worker's side of payments: once a day, as a pay date comes near, it builds the batches of every
county and program with something due, and builds its own drafts again (new enrolments, deaths
reported since). The first worker of a day claims the day's ``payment_scans`` row; the others skip."""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import benefits, divisions, payment_batches, payment_scans
from app.domain.errors import Invalid
from app.domain.money import batch_review, batches, ledger, offices
from app.domain.money.offices import County
from app.domain.timekeeping import calendar

SYSTEM = "system"


@dataclass(frozen=True)
class PaySchedule:
    """``AIDFLOW_PAYMENT_DAY`` and ``AIDFLOW_PAYMENT_LEAD_DAYS`` (app/config.py)."""

    day: int = 1
    lead_days: int = 5


DEFAULT_SCHEDULE = PaySchedule()


def next_monthly_pay_date(today: date, payment_day: int) -> date:
    this_month = today.replace(day=payment_day)
    return this_month if today <= this_month else ledger.add_months(this_month, 1)


async def _claim_day(conn: AsyncConnection, today: date) -> bool:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = await conn.execute(
        dialect.insert(payment_scans)
        .values(day=today, at=clock.now(), batches_built=0)
        .on_conflict_do_nothing()
        .returning(payment_scans.c.day)
    )
    return inserted.first() is not None


async def _counties(conn: AsyncConnection) -> list[County]:
    rows = await conn.execute(
        sa.select(divisions.c.code, divisions.c.path).where(divisions.c.level == "county")
    )
    return [County(code, path) for code, path in rows.all()]


async def _pairs(conn: AsyncConnection, condition: sa.ColumnElement[bool]) -> set[tuple[str, str]]:
    """(program, division path) of benefits meeting ``condition``."""
    rows = await conn.execute(
        sa.select(benefits.c.program, benefits.c.division_path).where(condition).distinct()
    )
    return {(program, path) for program, path in rows.all()}


def _county_of(path: str, counties: list[County]) -> County | None:
    return next((c for c in counties if path.startswith(c.path)), None)


async def _wanted(
    conn: AsyncConnection, today: date, payment_day: int, lead_days: int
) -> set[tuple[County, str, date]]:
    counties = await _counties(conn)
    wanted: set[tuple[County, str, date]] = set()
    pay_date = next_monthly_pay_date(today, payment_day)
    if (pay_date - today).days <= lead_days:
        month_start = pay_date.replace(day=1)
        running = sa.and_(
            benefits.c.kind == "monthly",
            benefits.c.status == "active",
            benefits.c.starts_on <= ledger.end_of_month(pay_date),
            sa.or_(benefits.c.ends_on.is_(None), benefits.c.ends_on >= month_start),
        )
        for program, path in await _pairs(conn, running):
            if place := _county_of(path, counties):
                wanted.add((place, program, pay_date))
    scheduled = sa.and_(
        benefits.c.kind == "one_time",
        benefits.c.status == "scheduled",
        benefits.c.starts_on.between(today - timedelta(days=lead_days), today + timedelta(days=lead_days)),
    )
    rows = await conn.execute(
        sa.select(benefits.c.program, benefits.c.division_path, benefits.c.starts_on)
        .where(scheduled)
        .distinct()
    )
    for program, path, starts_on in rows.all():
        if place := _county_of(path, counties):
            wanted.add((place, program, starts_on))
    return wanted


async def _payable(conn: AsyncConnection, program: str) -> bool:
    try:
        await offices.of_program(conn, program)
    except Invalid:
        return False  # no county office to submit it: nothing to build
    return True


async def build_due(conn: AsyncConnection, schedule: PaySchedule) -> int:
    """Today's scan, once per day for the whole installation; returns the batches built."""
    today = calendar.today()
    if not await _claim_day(conn, today):
        return 0
    built = 0
    wanted = await _wanted(conn, today, schedule.day, schedule.lead_days)
    for place, program, pay_date in sorted(wanted, key=repr):
        if not await _payable(conn, program):
            continue
        status = (
            await conn.execute(
                sa.select(payment_batches.c.status, payment_batches.c.built_by).where(
                    payment_batches.c.county_code == place.code,
                    payment_batches.c.program == program,
                    payment_batches.c.pay_date == pay_date,
                )
            )
        ).first()
        if status is None or (status.status == "draft" and status.built_by == SYSTEM):
            batch_id = await batches.build(conn, place, program, pay_date, SYSTEM)
            await batch_review.record(conn, SYSTEM, "built", await batch_review.load(conn, batch_id))
            built += 1
    await conn.execute(
        sa.update(payment_scans).where(payment_scans.c.day == today).values(batches_built=built)
    )
    return built
