"""Payment batches built from the benefits ledger: one item per benefit and period due, none twice.

A batch is one county's payments of one program on one pay date. Monthly enrolments are paid for the
pay date's month; one-time payments scheduled on or before the pay date are paid once. What is not
paid is left out with its reason (``payment_left_out``). Two builders at once — the worker and a clerk,
or two replicas — cannot pay a period twice: each item is inserted under the unique key (benefit,
period, attempt) with ON CONFLICT DO NOTHING, and the batch's counts are read back from its items.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import (
    applications,
    benefits,
    payment_batches,
    payment_items,
    payment_left_out,
)
from app.domain.errors import Conflict
from app.domain.money import bank_retries, item_accounts, ledger
from app.domain.money.offices import County
from app.domain.people.principal import path_range

ONCE = "once"
STATUS_WORDS = {
    "draft": "待提交",
    "submitted": "提交审核",
    "approved": "审核通过",
    "exported": "导出",
    "settled": "回盘",
}
DECEASED = "person_deceased"
# Why a benefit due by the ledger is not in a batch: deceased, ended, cap_exceeded, no_bank_account,
# account_unchanged (the bank refused it and the account is still the one it failed on).
_CHUNK = 500  # keys per IN (...) list, well under every driver's parameter limit


@dataclass(frozen=True)
class Due:
    benefit_id: int
    period: str
    application_id: str
    person_id_number: str
    recipient_name: str
    division_path: str
    amount: Decimal
    attempt: int = 1  # 2, 3…: paid again after the bank refused the attempt before (bank_retries.py)


@dataclass(frozen=True)
class LeftOut:
    benefit_id: int
    period: str
    amount: Decimal
    reason: str
    detail: str | None


@dataclass
class Plan:
    due: list[Due]
    left_out: list[LeftOut]


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _name(applicant: dict[str, Any] | None) -> str:
    return str((applicant or {}).get("name") or "")[:100]


def _due(row: Any, period: str) -> Due:
    return Due(
        row.id,
        period,
        row.application_id,
        row.person_id_number,
        _name(row.applicant),
        row.division_path,
        Decimal(row.amount),
    )


def _left_out(row: Any, period: str, reason: str, detail: str | None = None) -> LeftOut:
    return LeftOut(row.id, period, Decimal(row.amount), reason, detail)


_COLUMNS = (
    benefits.c.id,
    benefits.c.application_id,
    benefits.c.person_id_number,
    benefits.c.family_id,
    benefits.c.division_path,
    benefits.c.amount,
    benefits.c.year,
    benefits.c.starts_on,
    benefits.c.ends_on,
    benefits.c.status,
    benefits.c.ended_reason,
    benefits.c.cap_exempt,
    applications.c.applicant,
    applications.c.settings,
)


async def _monthly(conn: AsyncConnection, place: County, program: str, pay_date: date, plan: Plan) -> None:
    """Enrolments running in the pay month are due; those that ended in the month before are left out
    with why (a death, a termination), unless the same case goes on with a new row (an adjustment)."""
    month_start = pay_date.replace(day=1)
    previous_start = ledger.add_months(month_start, -1)
    rows = (
        await conn.execute(
            sa.select(*_COLUMNS)
            .join(applications, applications.c.id == benefits.c.application_id)
            .where(
                benefits.c.program == program,
                path_range(benefits.c.division_path, place.path),
                benefits.c.kind == "monthly",
                benefits.c.status.in_(("active", "ended")),
                benefits.c.starts_on <= ledger.end_of_month(pay_date),
                sa.or_(benefits.c.ends_on.is_(None), benefits.c.ends_on >= previous_start),
            )
            .order_by(benefits.c.id)
        )
    ).all()
    period = pay_date.strftime("%Y-%m")
    running = {r.application_id for r in rows if r.ends_on is None or r.ends_on >= month_start}
    for row in rows:
        if row.ends_on is None or row.ends_on >= month_start:
            plan.due.append(_due(row, period))
        elif row.application_id not in running:
            reason = "deceased" if row.ended_reason == DECEASED else "ended"
            plan.left_out.append(_left_out(row, period, reason, row.ended_reason))


async def _one_time(conn: AsyncConnection, place: County, program: str, pay_date: date, plan: Plan) -> None:
    """Scheduled payments due by the pay date, each checked again against its case's yearly caps."""
    rows = (
        await conn.execute(
            sa.select(*_COLUMNS)
            .join(applications, applications.c.id == benefits.c.application_id)
            .where(
                benefits.c.program == program,
                path_range(benefits.c.division_path, place.path),
                benefits.c.kind == "one_time",
                benefits.c.status == "scheduled",
                benefits.c.starts_on <= pay_date,
            )
            .order_by(benefits.c.id)
        )
    ).all()
    for row in rows:
        over = None if row.cap_exempt else await _cap_exceeded(conn, program, row)
        if over:
            plan.left_out.append(_left_out(row, ONCE, "cap_exceeded", over))
        else:
            plan.due.append(_due(row, ONCE))


async def _cap_exceeded(conn: AsyncConnection, program: str, row: Any) -> str | None:
    """The ledger's cap rules again: what was paid this year, and what was scheduled before this row,
    plus this amount within ``person_year_cap`` and ``family_year_cap`` (the case's frozen settings)."""
    settings = row.settings or {}
    for rule, column, key in (
        ("person_year_cap", benefits.c.person_id_number, row.person_id_number),
        ("family_year_cap", benefits.c.family_id, row.family_id),
    ):
        cap = settings.get(rule)
        if cap is None:
            continue
        used = (
            await conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(benefits.c.amount), 0)).where(
                    column == key,
                    benefits.c.program == program,
                    benefits.c.kind == "one_time",
                    benefits.c.year == row.year,
                    benefits.c.id != row.id,
                    sa.or_(
                        benefits.c.status == "ended",
                        sa.and_(benefits.c.status == "scheduled", benefits.c.id < row.id),
                    ),
                )
            )
        ).scalar_one()
        if Decimal(used) + Decimal(row.amount) > Decimal(str(cap)):
            return f"{rule} {cap}"
    return None


async def _deceased(conn: AsyncConnection, people: Sequence[str], before: date) -> set[str]:
    """People whose death ended an enrolment (of any program) before ``before``."""
    found: set[str] = set()
    for chunk in _chunks(people):
        found |= set(
            (
                await conn.execute(
                    sa.select(benefits.c.person_id_number)
                    .where(
                        benefits.c.person_id_number.in_(chunk),
                        benefits.c.ended_reason == DECEASED,
                        benefits.c.ends_on < before,
                    )
                    .distinct()
                )
            ).scalars()
        )
    return found


async def _itemised_elsewhere(conn: AsyncConnection, batch_id: int, due: list[Due]) -> set[tuple[int, str]]:
    """(benefit, period) already in another batch, paid, pending or failed (a failed one is paid again
    as a new attempt, not by building)."""
    found: set[tuple[int, str]] = set()
    ids = sorted({d.benefit_id for d in due})
    for chunk in _chunks(ids):
        rows = await conn.execute(
            sa.select(payment_items.c.benefit_id, payment_items.c.period).where(
                payment_items.c.benefit_id.in_(chunk), payment_items.c.batch_id != batch_id
            )
        )
        found |= {(b, p) for b, p in rows.all()}
    return found


async def plan(conn: AsyncConnection, batch_id: int, place: County, program: str, pay_date: date) -> Plan:
    result = Plan([], [])
    await _monthly(conn, place, program, pay_date, result)
    await _one_time(conn, place, program, pay_date, result)
    elsewhere = await _itemised_elsewhere(conn, batch_id, result.due)
    candidates = [d for d in result.due if (d.benefit_id, d.period) not in elsewhere]
    # Refused by the bank: paid again on a changed account; on the same one, neither it nor the rest.
    failed = await bank_retries.failed_before(conn, batch_id, place.code, program)
    candidates += [Due(*f.due_again()) for f in failed if f.account_changed]
    stuck = {f.person_id_number: f.failure_code for f in failed if not f.account_changed}
    result.left_out += [
        LeftOut(f.benefit_id, f.period, f.amount, "account_unchanged", f.failure_code)
        for f in failed
        if not f.account_changed
    ]
    people = sorted({d.person_id_number for d in candidates})
    dead = await _deceased(conn, people, pay_date.replace(day=1))
    accounts = await item_accounts.current(conn, people)
    result.due = []
    for item in candidates:
        if item.person_id_number in dead:
            result.left_out.append(LeftOut(item.benefit_id, item.period, item.amount, "deceased", DECEASED))
        elif item.person_id_number in stuck:
            reason = stuck[item.person_id_number]
            result.left_out.append(
                LeftOut(item.benefit_id, item.period, item.amount, "account_unchanged", reason)
            )
        elif item.person_id_number not in accounts:
            result.left_out.append(
                LeftOut(item.benefit_id, item.period, item.amount, "no_bank_account", None)
            )
        else:
            result.due.append(item)
    return result


def _insert_ignoring_duplicates(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING, executed with a list of rows (one cached statement, executemany)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


async def _batch_row(
    conn: AsyncConnection, place: County, program: str, pay_date: date, actor: str
) -> sa.Row[Any]:
    """The batch, created if missing; on PostgreSQL locked, so builds of one batch take turns."""
    await conn.execute(
        _insert_ignoring_duplicates(conn, payment_batches),
        [
            {
                "county_code": place.code,
                "county_path": place.path,
                "program": program,
                "pay_date": pay_date,
                "pay_month": pay_date.strftime("%Y-%m"),
                "status": "draft",
                "item_count": 0,
                "total_amount": Decimal(0),
                "left_out_count": 0,
                "built_at": clock.now(),
                "built_by": actor,
            }
        ],
    )
    query = sa.select(payment_batches).where(
        payment_batches.c.county_code == place.code,
        payment_batches.c.program == program,
        payment_batches.c.pay_date == pay_date,
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).one()


async def build(conn: AsyncConnection, place: County, program: str, pay_date: date, actor: str) -> int:
    """Build (or build again) a draft batch; returns its id. Idempotent: building twice gives one set
    of items; building again also drops items no longer due (a death reported since) and adds new ones."""
    batch = await _batch_row(conn, place, program, pay_date, actor)
    if batch.status != "draft":
        raise Conflict(
            "batch_not_draft",
            f"发放批次 {batch.id} 已{STATUS_WORDS.get(batch.status, batch.status)}，不能重新生成",
        )
    found = await plan(conn, batch.id, place, program, pay_date)
    due_keys = {(d.benefit_id, d.period) for d in found.due}
    kept = (
        await conn.execute(
            sa.select(
                payment_items.c.id,
                payment_items.c.benefit_id,
                payment_items.c.period,
                payment_items.c.person_id_number,
                payment_items.c.account_id,
                payment_items.c.account_changed,
            ).where(payment_items.c.batch_id == batch.id)
        )
    ).all()
    stale = [r.id for r in kept if (r.benefit_id, r.period) not in due_keys]
    if stale:
        await conn.execute(sa.delete(payment_items).where(payment_items.c.id.in_(stale)))
    await conn.execute(sa.delete(payment_left_out).where(payment_left_out.c.batch_id == batch.id))
    people = sorted({d.person_id_number for d in found.due})
    accounts = await item_accounts.current(conn, people)
    last_paid = await item_accounts.last_paid(conn, batch.id, people)
    await item_accounts.refresh(conn, kept, due_keys, accounts, last_paid)
    already = {(r.benefit_id, r.period) for r in kept}
    new_rows = [
        {
            "batch_id": batch.id,
            "benefit_id": d.benefit_id,
            "period": d.period,
            "attempt": d.attempt,
            "application_id": d.application_id,
            "person_id_number": d.person_id_number,
            "recipient_name": d.recipient_name,
            "division_path": d.division_path,
            "amount": d.amount,
            "account_id": accounts[d.person_id_number],
            "account_changed": item_accounts.changed(
                d.person_id_number, accounts[d.person_id_number], last_paid
            ),
            "status": "pending",
        }
        for d in found.due
        if (d.benefit_id, d.period) not in already
    ]
    if new_rows:
        await conn.execute(_insert_ignoring_duplicates(conn, payment_items), new_rows)
    left_out_rows = [
        {
            "batch_id": batch.id,
            "benefit_id": x.benefit_id,
            "period": x.period,
            "amount": x.amount,
            "reason": x.reason,
            "detail": (x.detail or None) and x.detail[:200],
        }
        for x in found.left_out
    ]
    if left_out_rows:
        await conn.execute(sa.insert(payment_left_out), left_out_rows)
    count, total, changed = (
        await conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(payment_items.c.amount), 0),
                sa.func.coalesce(sa.func.sum(sa.case((payment_items.c.account_changed, 1), else_=0)), 0),
            ).where(payment_items.c.batch_id == batch.id)
        )
    ).one()
    await conn.execute(
        sa.update(payment_batches)
        .where(payment_batches.c.id == batch.id)
        .values(
            item_count=count,
            total_amount=Decimal(total),
            left_out_count=len(left_out_rows),
            account_changed_count=changed,
            built_at=clock.now(),
            built_by=actor,
        )
    )
    return int(batch.id)
