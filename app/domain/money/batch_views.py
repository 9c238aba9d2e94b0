"""What the offices read about batches: the batch, its items (ID numbers masked, accounts as last four
digits) and what it left out, page by page."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import bank_accounts, benefits, payment_batches, payment_items, payment_left_out
from app.domain.errors import Invalid
from app.domain.money import bank_files, offices
from app.domain.money.vault import mask
from app.domain.people.principal import Principal


def masked_id(id_number: str) -> str:
    return id_number[:4] + "*" * 10 + id_number[-4:]


async def shown(conn: AsyncConnection, me: Principal, row: sa.RowMapping) -> dict[str, Any]:
    """The batch as this reader sees it (the refusal's text only for the two offices)."""
    program_offices = await offices.of_program(conn, row["program"])
    place = offices.County(row["county_code"], row["county_path"])
    return batch_view(row, offices.is_office(me, program_offices, place))


def batch_view(row: sa.RowMapping, office: bool) -> dict[str, Any]:
    """``office``: the reader is of the preparing or the finance office. The refusal's free text may
    name a recipient; others who may read the batch (administrators) see that it was refused, not why."""
    return {
        "id": row["id"],
        "county_code": row["county_code"],
        "program": row["program"],
        "pay_date": row["pay_date"],
        "pay_month": row["pay_month"],
        "status": row["status"],
        "item_count": row["item_count"],
        "total_amount": row["total_amount"],
        "left_out_count": row["left_out_count"],
        "built_by": row["built_by"],
        "built_at": row["built_at"],
        "submitted_by": row["submitted_by"],
        "submitted_at": row["submitted_at"],
        "approved_by": row["approved_by"],
        "approved_at": row["approved_at"],
        "refused_by": row["refused_by"],
        "refused_at": row["refused_at"],
        "refusal_reason": row["refusal_reason"] if office else None,
        "account_changed_count": row["account_changed_count"],
        "exported_by": row["exported_by"],
        "exported_at": row["exported_at"],
        "settled_at": row["settled_at"],
    }


async def listing(
    conn: AsyncConnection,
    me: Principal,
    county_code: str | None,
    program: str | None,
    status: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest pay date first; only batches of programs whose preparing or finance office the caller is."""
    query = sa.select(payment_batches).where(me.visible(payment_batches.c.county_path))
    if county_code:
        query = query.where(payment_batches.c.county_code == county_code)
    if program:
        query = query.where(payment_batches.c.program == program)
    if status:
        query = query.where(payment_batches.c.status == status)
    rows = (
        await conn.execute(
            query.order_by(payment_batches.c.pay_date.desc(), payment_batches.c.id.desc()).limit(limit)
        )
    ).mappings()
    by_program: dict[str, offices.Offices | None] = {}
    result: list[dict[str, Any]] = []
    for row in rows:
        if row["program"] not in by_program:
            try:
                by_program[row["program"]] = await offices.of_program(conn, row["program"])
            except Invalid:  # a definition since uploaded without a payable owner: nobody handles it
                by_program[row["program"]] = None
        found = by_program[row["program"]]
        place = offices.County(row["county_code"], row["county_path"])
        if found is not None and offices.may_read(me, found, place):
            result.append(batch_view(row, offices.is_office(me, found, place)))
    return result


def item_view(r: sa.RowMapping) -> dict[str, Any]:
    return {
        "id": r["id"],
        "benefit_id": r["benefit_id"],
        "application_id": r["application_id"],
        "period": r["period"],
        "attempt": r["attempt"],
        "recipient_name": r["recipient_name"],
        "person_id_masked": masked_id(r["person_id_number"]),
        "amount": r["amount"],
        "bank_name": r["bank_name"],
        "account_masked": mask(r["last4"]),
        "holder_name": r["holder_name"],
        "account_changed_since_last_payment": r["account_changed"],
        "status": r["status"],
        "reference": bank_files.reference(r["batch_id"], r["id"]),
        "bank_reference": r["bank_reference"],
        "failure_code": r["failure_code"],
        "failure_reason": r["failure_reason"],
        "bank_date": r["bank_date"],
        "settled_at": r["settled_at"],
    }


async def items(conn: AsyncConnection, batch_id: int, after_id: int, limit: int) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            sa.select(
                payment_items,
                bank_accounts.c.bank_name,
                bank_accounts.c.last4,
                bank_accounts.c.holder_name,
            )
            .join(bank_accounts, bank_accounts.c.id == payment_items.c.account_id)
            .where(payment_items.c.batch_id == batch_id, payment_items.c.id > after_id)
            .order_by(payment_items.c.id)
            .limit(limit)
        )
    ).mappings()
    return [item_view(r) for r in rows]


async def left_out(conn: AsyncConnection, batch_id: int) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            sa.select(payment_left_out, benefits.c.application_id)
            .join(benefits, benefits.c.id == payment_left_out.c.benefit_id)
            .where(payment_left_out.c.batch_id == batch_id)
            .order_by(payment_left_out.c.id)
        )
    ).mappings()
    return [
        {
            "benefit_id": r["benefit_id"],
            "application_id": r["application_id"],
            "period": r["period"],
            "amount": r["amount"],
            "reason": r["reason"],
            "detail": r["detail"],
        }
        for r in rows
    ]
