"""Reconciliation (对账): a county's payments of a month — scheduled, paid, failed, still pending — per
batch and per township and program, and the list of payments behind each number.

"Scheduled" is every item of the month's batches that finance approved (approved, exported, settled);
drafts and batches awaiting approval are not money yet. The month is the batches' pay month, so a
payment the bank refused in November and paid again in December counts as failed in November and
as scheduled and paid in December. Read by the program's county office and the county finance office
(and administrators), for the programs whose money they handle there.
"""

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import bank_accounts, payment_batches, payment_items
from app.domain.errors import Forbidden, Invalid
from app.domain.money import batch_views, offices
from app.domain.people import divisions
from app.domain.people.principal import Principal, path_range

COUNTED = ("approved", "exported", "settled")
FIGURES = ("scheduled", "paid", "failed", "pending")
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


def _zero() -> dict[str, dict[str, Any]]:
    return {f: {"count": 0, "amount": Decimal("0.00")} for f in FIGURES}


def _add(figures: dict[str, dict[str, Any]], status: str, count: int, amount: Decimal) -> None:
    for figure in ("scheduled", status):
        figures[figure]["count"] += count
        figures[figure]["amount"] += amount


def township_path(county_path: str, division_path: str) -> str:
    """The division at the county's next level that ``division_path`` lies in (or the county itself)."""
    depth = len(county_path.strip("/").split("/")) + 1
    return "/" + "/".join(division_path.strip("/").split("/")[:depth]) + "/"


def _code(path: str) -> str:
    return path.strip("/").split("/")[-1]


async def _programs(
    conn: AsyncConnection, me: Principal, place: offices.County, program: str | None
) -> list[str]:
    """The programs of the county's counted batches whose money the caller handles there."""
    query = sa.select(payment_batches.c.program).where(payment_batches.c.county_code == place.code).distinct()
    if program:
        query = query.where(payment_batches.c.program == program)
    found = []
    for key in sorted((await conn.execute(query)).scalars()):
        if offices.may_read(me, await offices.of_program(conn, key), place):
            found.append(key)
    if program and not found:
        # A program without batches here yet: who would handle it decides (a stranger learns nothing).
        if offices.may_read(me, await offices.of_program(conn, program), place):
            return [program]
        raise Forbidden(
            "not_payment_office", f"您不负责 {place.code} 的 {program} 资金发放", role="county_finance"
        )
    return found


async def _check_caller(me: Principal, place: offices.County) -> None:
    if not me.is_admin and not any(
        (g.role == offices.FINANCE or g.role.startswith("county_"))
        and g.division_path
        and place.path.startswith(g.division_path)
        for g in me.grants
    ):
        raise Forbidden(
            "not_payment_office", f"只有 {place.code} 的发放经办和财政部门可以对账", role="county_finance"
        )


def check_month(month: str) -> None:
    if not _MONTH.match(month):
        raise Invalid("invalid_month", "月份格式应为 YYYY-MM", field="month")


async def summary(
    conn: AsyncConnection, me: Principal, county_code: str, month: str, program: str | None
) -> dict[str, Any]:
    check_month(month)
    place = await offices.county(conn, county_code)
    await _check_caller(me, place)
    programs = await _programs(conn, me, place, program)
    rows = (
        await conn.execute(
            sa.select(
                payment_batches.c.id,
                payment_batches.c.program,
                payment_batches.c.pay_date,
                payment_batches.c.status.label("batch_status"),
                payment_items.c.division_path,
                payment_items.c.status,
                sa.func.count(payment_items.c.id),
                sa.func.coalesce(sa.func.sum(payment_items.c.amount), 0),
            )
            .outerjoin(payment_items, payment_items.c.batch_id == payment_batches.c.id)
            .where(
                payment_batches.c.county_code == place.code,
                payment_batches.c.pay_month == month,
                payment_batches.c.status.in_(COUNTED),
                payment_batches.c.program.in_(programs),
            )
            .group_by(
                payment_batches.c.id,
                payment_batches.c.program,
                payment_batches.c.pay_date,
                payment_batches.c.status,
                payment_items.c.division_path,
                payment_items.c.status,
            )
        )
    ).all()
    totals = _zero()
    by_batch: dict[int, dict[str, Any]] = {}
    by_place: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for batch_id, key, pay_date, batch_status, path, status, count, summed in rows:
        batch = by_batch.setdefault(
            batch_id,
            {"batch_id": batch_id, "program": key, "pay_date": pay_date, "status": batch_status, **_zero()},
        )
        if path is None:  # a batch without items
            continue
        amount = Decimal(summed)
        _add(totals, status, count, amount)
        _add(batch, status, count, amount)
        _add(by_place.setdefault((township_path(place.path, path), key), _zero()), status, count, amount)
    names = await divisions.lookup(conn, [_code(path) for path, _ in by_place])
    return {
        "county_code": place.code,
        "month": month,
        "program": program,
        "totals": totals,
        "batches": sorted(by_batch.values(), key=lambda b: (b["pay_date"], b["batch_id"])),
        "places": [
            {
                "division_code": _code(path),
                "name": names.get(_code(path), {}).get("name", _code(path)),
                "program": key,
                **figures,
            }
            for (path, key), figures in sorted(by_place.items())
        ],
    }


def _statuses(figure: str) -> Iterable[str]:
    return ("pending", "paid", "failed") if figure == "scheduled" else (figure,)


async def items(
    conn: AsyncConnection,
    me: Principal,
    county_code: str,
    month: str,
    program: str | None,
    figure: str,
    batch_id: int | None,
    division_code: str | None,
    after_id: int,
    limit: int,
) -> list[dict[str, Any]]:
    """The payments behind one number of ``summary`` (masked as in a batch's items), in id order."""
    check_month(month)
    if figure not in FIGURES:
        raise Invalid("invalid_status", f"status 应为 {'、'.join(FIGURES)} 之一", field="status")
    place = await offices.county(conn, county_code)
    await _check_caller(me, place)
    programs = await _programs(conn, me, place, program)
    query = (
        sa.select(
            payment_items,
            payment_batches.c.program,
            payment_batches.c.pay_date,
            bank_accounts.c.bank_name,
            bank_accounts.c.last4,
            bank_accounts.c.holder_name,
        )
        .join(payment_batches, payment_batches.c.id == payment_items.c.batch_id)
        .join(bank_accounts, bank_accounts.c.id == payment_items.c.account_id)
        .where(
            payment_batches.c.county_code == place.code,
            payment_batches.c.pay_month == month,
            payment_batches.c.status.in_(COUNTED),
            payment_batches.c.program.in_(programs),
            payment_items.c.status.in_(tuple(_statuses(figure))),
            payment_items.c.id > after_id,
        )
    )
    if batch_id is not None:
        query = query.where(payment_items.c.batch_id == batch_id)
    if division_code:
        found = await divisions.lookup(conn, [division_code])
        if division_code not in found or not found[division_code]["path"].startswith(place.path):
            return []
        query = query.where(path_range(payment_items.c.division_path, found[division_code]["path"]))
    rows = (await conn.execute(query.order_by(payment_items.c.id).limit(limit))).mappings()
    return [
        {
            **batch_views.item_view(r),
            "batch_id": r["batch_id"],
            "program": r["program"],
            "pay_date": r["pay_date"],
            "division_code": _code(township_path(place.path, r["division_path"])),
        }
        for r in rows
    ]
