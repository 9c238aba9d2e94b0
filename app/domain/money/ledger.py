"""The benefits ledger: every approved amount, by person, family, program, period and case.

Caps and "no second active enrolment" are checked against it in the transaction that
approves, under a per-family lock, so two approvals racing for one family cannot both
slip under a cap.
"""

import calendar as monthly
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import applications, benefits
from app.domain.errors import Conflict, Invalid
from app.domain.timekeeping import calendar
from app.shapes import Json, RowLike, Visibility

KINDS = ("monthly", "one_time")
# one_time rows: "ended" once paid, "scheduled" for a later payment date, "cancelled" if stopped before.
COUNTED = ("active", "ended", "scheduled")
# Above this an amount is a typing error, not a benefit (a year of the highest allowance is far below).
ABSURD_AMOUNT = Decimal("1000000")


def parse_amount(value: object, field: str = "amount") -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise Invalid("invalid_amount", f"{field} must be a number of yuan", field=field)
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise Invalid("invalid_amount", f"{field} must be a number of yuan", field=field) from exc
    if not amount.is_finite() or amount <= 0:
        raise Invalid("invalid_amount", f"{field} must be more than 0 yuan", field=field)
    if amount >= ABSURD_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise Invalid(
            "invalid_amount",
            f"{field} {amount} is not a plausible amount in yuan (≤ 2 decimals, < {ABSURD_AMOUNT})",
            field=field,
        )
    return amount


def first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def end_of_month(day: date, months_later: int = 0) -> date:
    year, month = divmod(day.month - 1 + months_later, 12)
    year += day.year
    month += 1
    return date(year, month, monthly.monthrange(year, month)[1])


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, monthly.monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class Totals:
    """This year's one-time amounts of a person and of their family, by program (for expressions)."""

    person: dict[str, Decimal]
    family: dict[str, Decimal]


async def totals(conn: AsyncConnection, person_id_number: str, family_id: str, year: int) -> Totals:
    rows = (
        await conn.execute(
            sa.select(
                benefits.c.program, benefits.c.person_id_number, benefits.c.family_id, benefits.c.amount
            ).where(
                benefits.c.kind == "one_time",
                benefits.c.year == year,
                benefits.c.status.in_(COUNTED),
                sa.or_(benefits.c.person_id_number == person_id_number, benefits.c.family_id == family_id),
            )
        )
    ).all()
    person: dict[str, Decimal] = {}
    family: dict[str, Decimal] = {}
    for program, person_id, family_of_row, amount in rows:
        if person_id == person_id_number:
            person[program] = person.get(program, Decimal(0)) + Decimal(amount)
        if family_of_row == family_id:
            family[program] = family.get(program, Decimal(0)) + Decimal(amount)
    return Totals(person, family)


def functions(snapshot: Totals, own_program: str) -> Json:
    """``person_year_total()`` / ``family_year_total()`` for BPMN conditions (yuan, as float)."""

    def person_year_total(program: str | None = None) -> float:
        return float(snapshot.person.get(program or own_program, 0))

    def family_year_total(program: str | None = None) -> float:
        return float(snapshot.family.get(program or own_program, 0))

    return {"person_year_total": person_year_total, "family_year_total": family_year_total}


async def _lock_family(conn: AsyncConnection, family_id: str) -> None:
    # SQLite has one writer at a time already; PostgreSQL serialises approvals per family here.
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:family))"), {"family": "family:" + family_id}
        )


# Asked by every application that enrols: built once (see ``cases.store`` on why).
_ACTIVE_ENROLMENT = (
    sa.select(benefits)
    .where(
        benefits.c.person_id_number == sa.bindparam("person"),
        benefits.c.program.in_(sa.bindparam("programs", expanding=True)),
        benefits.c.kind == "monthly",
        benefits.c.status == "active",
    )
    .limit(1)
)
_PAYMENTS_BY_PROGRAM = (
    sa.select(benefits.c.program, sa.func.count())
    .where(benefits.c.person_id_number == sa.bindparam("person"), benefits.c.status.in_(COUNTED))
    .group_by(benefits.c.program)
)


async def active_enrolment(conn: AsyncConnection, person_id_number: str, programs: set[str]) -> Json | None:
    row = (
        (await conn.execute(_ACTIVE_ENROLMENT, {"person": person_id_number, "programs": sorted(programs)}))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def refuse_if_enrolled(conn: AsyncConnection, person_id_number: str, programs: set[str]) -> None:
    found = await active_enrolment(conn, person_id_number, programs)
    if found:
        raise Conflict(
            "already_enrolled",
            f"this person already receives {found['program']} (case "
            f"{found['application_id']}); a second active enrolment is not allowed",
            program=found["program"],
            existing_id=found["application_id"],
        )


async def _check_cap(
    conn: AsyncConnection, app: Json, amount: Decimal, year: int, whose: sa.ColumnElement[bool], rule: str
) -> None:
    """``rule`` names the program setting that holds the cap (yuan), if any."""
    cap = (app.get("settings") or {}).get(rule)
    if cap is None:
        return
    rows = (
        await conn.execute(
            sa.select(benefits.c.application_id, benefits.c.amount, benefits.c.starts_on)
            .where(
                whose,
                benefits.c.program == app["program"],
                benefits.c.kind == "one_time",
                benefits.c.year == year,
                benefits.c.status.in_(COUNTED),
            )
            .order_by(benefits.c.id)
        )
    ).all()
    used = sum((Decimal(r.amount) for r in rows), Decimal(0))
    if used + amount > Decimal(str(cap)):
        raise Conflict(
            "benefit_cap_exceeded",
            f"{rule}: {used} yuan already paid this year plus {amount} exceeds the cap of {cap} yuan",
            rule=rule,
            cap=cap,
            used=float(used),
            amount=float(amount),
            earlier=[
                {"application_id": r.application_id, "amount": float(r.amount), "on": r.starts_on.isoformat()}
                for r in rows
            ],
        )


async def record(
    conn: AsyncConnection,
    app: Json,
    *,
    kind: str,
    amount: object,  # checked by parse_amount
    category: str | None = None,
    cap_exempt: bool = False,
    starts_on: date | None = None,
    next_recheck_on: date | None = None,
    exclusive_with: AbstractSet[str] = frozenset(),
    note: Json | None = None,
    scheduled: bool = False,
) -> Json:
    """Enter an approved amount; raises with the rule and the earlier cases when a cap or an
    existing enrolment forbids it (the caller's whole transaction then rolls back)."""
    if kind not in KINDS:
        raise Invalid("invalid_benefit_kind", f"benefit kind must be one of {KINDS}")
    value = parse_amount(amount)
    family_id = app.get("family_id") or app["applicant_id_number"]
    await _lock_family(conn, family_id)
    today = calendar.today()
    starts = starts_on or today
    if kind == "monthly":
        await refuse_if_enrolled(conn, app["applicant_id_number"], {app["program"], *exclusive_with})
    elif not cap_exempt:
        person = benefits.c.person_id_number == app["applicant_id_number"]
        await _check_cap(conn, app, value, starts.year, person, "person_year_cap")
        await _check_cap(conn, app, value, starts.year, benefits.c.family_id == family_id, "family_year_cap")
    row = {
        "application_id": app["id"],
        "program": app["program"],
        "person_id_number": app["applicant_id_number"],
        "family_id": family_id,
        "division_path": app["division_path"],
        "kind": kind,
        "amount": value,
        "year": starts.year,
        "starts_on": starts,
        "ends_on": starts if kind == "one_time" else None,
        "status": "active" if kind == "monthly" else "scheduled" if scheduled else "ended",
        "category": category,
        "next_recheck_on": next_recheck_on,
        "cap_exempt": cap_exempt,
        "note": note or {},
        "created_at": clock.now(),
        "ended_at": None,
    }
    row["id"] = (await conn.execute(sa.insert(benefits).values(**row).returning(benefits.c.id))).scalar_one()
    return row


async def end_enrolment(
    conn: AsyncConnection, application_id: str, last_day: date, reason: str
) -> list[Json]:
    """Stop a monthly enrolment after ``last_day`` (paid through it)."""
    rows = (
        await conn.execute(
            sa.update(benefits)
            .where(
                benefits.c.application_id == application_id,
                benefits.c.kind == "monthly",
                benefits.c.status == "active",
            )
            .values(
                status="ended",
                ends_on=last_day,
                ended_at=clock.now(),
                next_recheck_on=None,
                ended_reason=reason[:100],
            )
            .returning(benefits.c.id, benefits.c.amount)
        )
    ).all()
    return [
        {"id": r.id, "amount": float(r.amount), "ends_on": last_day.isoformat(), "reason": reason}
        for r in rows
    ]


async def of_application(conn: AsyncConnection, application_id: str) -> list[Json]:
    rows = (
        await conn.execute(
            sa.select(benefits).where(benefits.c.application_id == application_id).order_by(benefits.c.id)
        )
    ).mappings()
    return [view(r) for r in rows]


async def of_person(
    conn: AsyncConnection, visible: Visibility, person_id_number: str, readable: sa.ColumnElement[bool]
) -> list[Json]:
    """A person's entries from the cases the caller reads in full (``readable``, a condition over
    ``applications``: ``cases.privacy``): seeing the place does not tell who is on 低保."""
    cases = sa.select(applications.c.id).where(readable)
    rows = (
        await conn.execute(
            sa.select(benefits)
            .where(
                benefits.c.person_id_number == person_id_number,
                visible(benefits.c.division_path),
                benefits.c.application_id.in_(cases),
            )
            .order_by(benefits.c.id)
        )
    ).mappings()
    return [view(r) for r in rows]


def view(row: RowLike) -> Json:
    return {
        "id": row["id"],
        "application_id": row["application_id"],
        "program": row["program"],
        "kind": row["kind"],
        "amount": float(row["amount"]),
        "year": row["year"],
        "starts_on": row["starts_on"],
        "ends_on": row["ends_on"],
        "status": row["status"],
        "category": row["category"],
        "next_recheck_on": row["next_recheck_on"],
        "cap_exempt": row["cap_exempt"],
        "note": row["note"],
    }


async def subject_of(conn: AsyncConnection, subject_id: str) -> Json:
    row = (
        (await conn.execute(sa.select(applications).where(applications.c.id == subject_id))).mappings().one()
    )
    return dict(row)


async def extend_until(conn: AsyncConnection, application_id: str, last_day: date, note: Json) -> None:
    """Keep paying an enrolment until ``last_day``, then end it (gradual exit, 渐退期)."""
    rows = (
        await conn.execute(
            sa.select(benefits.c.id, benefits.c.note).where(
                benefits.c.application_id == application_id,
                benefits.c.kind == "monthly",
                benefits.c.status == "active",
            )
        )
    ).all()
    for row in rows:
        await conn.execute(
            sa.update(benefits)
            .where(benefits.c.id == row.id)
            .values(ends_on=last_day, next_recheck_on=None, note={**(row.note or {}), **note})
        )


async def expired(conn: AsyncConnection, today: date, limit: int) -> list[Json]:
    query = (
        sa.select(benefits.c.id, benefits.c.application_id, benefits.c.ends_on)
        .where(benefits.c.status == "active", benefits.c.kind == "monthly", benefits.c.ends_on < today)
        .order_by(benefits.c.ends_on)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def due_rechecks(conn: AsyncConnection, today: date, limit: int) -> list[Json]:
    query = (
        sa.select(benefits)
        .where(
            benefits.c.status == "active", benefits.c.kind == "monthly", benefits.c.next_recheck_on <= today
        )
        .order_by(benefits.c.next_recheck_on, benefits.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def set_next_recheck(conn: AsyncConnection, benefit_id: int, day: date | None) -> None:
    await conn.execute(sa.update(benefits).where(benefits.c.id == benefit_id).values(next_recheck_on=day))


async def rule_functions(conn: AsyncConnection, person_id_number: str) -> Json:
    """For eligibility rules: how many payments a person has had or has scheduled in a program."""
    rows = (await conn.execute(_PAYMENTS_BY_PROGRAM, {"person": person_id_number})).all()
    counts: dict[str, int] = dict(rows)

    def payments(program: str) -> int:
        return counts.get(program, 0)

    return {"payments": payments}


async def cancel_after(conn: AsyncConnection, application_id: str, day: date) -> int:
    """Stop scheduled payments due after ``day`` (e.g. a pupil left the kindergarten)."""
    done = await conn.execute(
        sa.update(benefits)
        .where(
            benefits.c.application_id == application_id,
            benefits.c.status == "scheduled",
            benefits.c.starts_on > day,
        )
        .values(status="cancelled", ended_at=clock.now())
    )
    return done.rowcount
