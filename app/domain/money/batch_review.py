"""Two people for money: the program's county office submits a batch, the county finance office
approves or refuses it. The guarded UPDATEs below are the separation of duties (the approver is not
the submitter, checked in the statement itself), and the table's CHECK constraint backs them up."""

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import bank_accounts, payment_batches, payment_items
from app.domain import audit
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.money import batches, offices, payment_events, reasons
from app.domain.people.principal import Principal
from app.domain.reports import amounts as report_amounts
from app.domain.timekeeping import calendar


def _audit_data(batch: sa.RowMapping) -> dict[str, Any]:
    """The whitelist: a batch's identity, counts and total. Never a recipient, and not a refusal's
    free text either (it may name one): that stays on the batch row."""
    return {
        "batch_id": batch["id"],
        "program": batch["program"],
        "pay_date": batch["pay_date"].isoformat(),
        "status": batch["status"],
        "items": batch["item_count"],
        "total": str(batch["total_amount"]),
        "left_out": batch["left_out_count"],
    }


async def record(
    conn: AsyncConnection, actor: str, verb: str, batch: sa.RowMapping, **counts: int | str
) -> None:
    """``counts``: what an export or a result file added (rows, paid, failed, the template's key)."""
    await audit.record_change(
        conn,
        actor,
        f"payment_batch.{verb}",
        f"payment_batch:{batch['id']}",
        None,
        {**_audit_data(batch), **counts},
        batch["county_code"],
    )
    # Amounts scheduled and paid in the reports move with the batch, in the same transaction.
    await report_amounts.batch_moved(conn, verb, batch)


async def load(conn: AsyncConnection, batch_id: int) -> sa.RowMapping:
    row = (
        (await conn.execute(sa.select(payment_batches).where(payment_batches.c.id == batch_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("batch_not_found", f"没有发放批次 {batch_id}")
    return row


async def readable(conn: AsyncConnection, me: Principal, batch_id: int) -> sa.RowMapping:
    """The batch, if the caller is of its county's preparing or finance office (or an administrator);
    others are told it does not exist."""
    batch = await load(conn, batch_id)
    program_offices = await offices.of_program(conn, batch["program"])
    if not offices.may_read(me, program_offices, offices.County(batch["county_code"], batch["county_path"])):
        raise NotFound("batch_not_found", f"没有发放批次 {batch_id}")
    return batch


# A pay date further away than this is a typing error (a batch is built days, not years, ahead).
PAY_DATE_RANGE_DAYS = 366


async def build(
    conn: AsyncConnection, me: Principal, county_code: str, program: str, pay_date: date
) -> sa.RowMapping:
    if abs((pay_date - calendar.today()).days) > PAY_DATE_RANGE_DAYS:
        raise Invalid("invalid_pay_date", "发放日期应在今天前后一年之内", field="pay_date")
    place = await offices.county(conn, county_code)
    program_offices = await offices.of_program(conn, program)
    offices.require(me, program_offices.preparer, place, "生成发放批次")
    batch_id = await batches.build(conn, place, program, pay_date, me.name)
    batch = await load(conn, batch_id)
    await record(conn, me.name, "built", batch)
    return batch


async def _guarded(
    conn: AsyncConnection, batch_id: int, where: Any, values: dict[str, Any]
) -> sa.RowMapping | None:
    return (
        (
            await conn.execute(
                sa.update(payment_batches)
                .where(payment_batches.c.id == batch_id, where)
                .values(**values)
                .returning(*payment_batches.c)
            )
        )
        .mappings()
        .first()
    )


async def submit(conn: AsyncConnection, me: Principal, batch_id: int) -> sa.RowMapping:
    batch = await readable(conn, me, batch_id)
    program_offices = await offices.of_program(conn, batch["program"])
    offices.require(
        me,
        program_offices.preparer,
        offices.County(batch["county_code"], batch["county_path"]),
        "提交发放批次",
    )
    if batch["item_count"] == 0:
        raise Conflict("batch_empty", "发放批次没有发放明细，不能提交")
    await _check_accounts_in_force(conn, batch_id)
    done = await _guarded(
        conn,
        batch_id,
        payment_batches.c.status == "draft",
        {"status": "submitted", "submitted_by": me.name, "submitted_at": clock.now()},
    )
    if done is None:
        raise Conflict("batch_not_draft", "发放批次不是待提交状态（可能已被他人提交）")
    await record(conn, me.name, "submitted", done)
    return done


async def _check_accounts_in_force(conn: AsyncConnection, batch_id: int) -> None:
    """Every item still pays to the person's account in force: an account change confirmed since the
    batch was built means building it again (which moves the items to the new account and flags them)."""
    stale = (
        await conn.execute(
            sa.select(sa.func.count())
            .select_from(payment_items.join(bank_accounts, bank_accounts.c.id == payment_items.c.account_id))
            .where(
                payment_items.c.batch_id == batch_id,
                sa.or_(bank_accounts.c.status != "confirmed", bank_accounts.c.replaced_at.is_not(None)),
            )
        )
    ).scalar_one()
    if stale:
        raise Conflict(
            "batch_account_replaced",
            f"发放批次中有 {stale} 笔的银行账号已变更，请重新生成批次后再提交或审核",
            items=stale,
        )


async def _check_reviewer(conn: AsyncConnection, me: Principal, batch: sa.RowMapping, action: str) -> None:
    program_offices = await offices.of_program(conn, batch["program"])
    offices.require(
        me, program_offices.approver, offices.County(batch["county_code"], batch["county_path"]), action
    )
    if batch["submitted_by"] == me.name:
        raise Forbidden("same_person", "提交人不能审核自己提交的发放批次")
    if batch["built_by"] == me.name:
        raise Forbidden("same_person_builder", "生成发放批次的人不能审核该批次")


def _not_mine(me: Principal) -> sa.ColumnElement[bool]:
    """The separation in the statement itself: neither the submitter nor the builder approves."""
    return sa.and_(
        payment_batches.c.status == "submitted",
        payment_batches.c.submitted_by != me.name,
        payment_batches.c.built_by != me.name,
    )


async def approve(conn: AsyncConnection, me: Principal, batch_id: int) -> sa.RowMapping:
    batch = await readable(conn, me, batch_id)
    await _check_reviewer(conn, me, batch, "审核发放批次")
    await _check_accounts_in_force(conn, batch_id)
    done = await _guarded(
        conn,
        batch_id,
        _not_mine(me),
        {"status": "approved", "approved_by": me.name, "approved_at": clock.now()},
    )
    if done is None:
        raise Conflict("batch_not_submitted", "发放批次不是待审核状态（可能已被他人处理）")
    await record(conn, me.name, "approved", done)
    await payment_events.batch_event(conn, "approved", done)
    return done


async def refuse(conn: AsyncConnection, me: Principal, batch_id: int, reason: str) -> sa.RowMapping:
    reason = reasons.clean(reason)
    batch = await readable(conn, me, batch_id)
    await _check_reviewer(conn, me, batch, "退回发放批次")
    done = await _guarded(
        conn,
        batch_id,
        _not_mine(me),
        {
            "status": "draft",
            "submitted_by": None,
            "submitted_at": None,
            "refused_by": me.name,
            "refused_at": clock.now(),
            "refusal_reason": reason,
        },
    )
    if done is None:
        raise Conflict("batch_not_submitted", "发放批次不是待审核状态（可能已被他人处理）")
    await record(conn, me.name, "refused", done)
    return done
