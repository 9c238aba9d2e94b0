"""A person's payment history on one case (发放记录): the case's ledger entries, what each batch paid
or is paying, and what is due next and in no batch yet. Accounts as bank and last four digits only.
The caller has already been allowed to read the case (``cases.lookup.load_row``)."""

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import bank_accounts, benefits, payment_batches, payment_items
from app.domain.money import ledger
from app.domain.money.vault import mask

ONCE = "once"
_SETTLED = {"paid": "paid", "failed": "failed"}


def _month(period: str) -> date:
    return date.fromisoformat(period + "-01")


def _entry(row: sa.RowMapping) -> dict[str, Any]:
    return {
        "benefit_id": row["id"],
        "program": row["program"],
        "kind": row["kind"],
        "amount": row["amount"],
        "starts_on": row["starts_on"],
        "ends_on": row["ends_on"],
        "status": row["status"],
    }


def _scheduled(benefit: sa.RowMapping, period: str, pay_date: date | None) -> dict[str, Any]:
    return {
        "benefit_id": benefit["id"],
        "period": period,
        "attempt": None,
        "amount": benefit["amount"],
        "status": "scheduled",
        "pay_date": pay_date,
        "batch_id": None,
        "batch_status": None,
        "bank_name": None,
        "account_masked": None,
        "failure_reason": None,
        "settled_at": None,
    }


def _next_month(benefit: sa.RowMapping, itemised: list[str]) -> str | None:
    """A running enrolment's next month in no batch yet (None: it has ended)."""
    months = [_month(p) for p in itemised if p != ONCE]
    start = ledger.add_months(max(months), 1) if months else benefit["starts_on"].replace(day=1)
    # An enrolment ended by a death or a move is still paid for the month it ended in.
    if benefit["status"] not in ("active", "ended") or (
        benefit["ends_on"] is not None and benefit["ends_on"] < start
    ):
        return None
    return start.strftime("%Y-%m")


async def of_application(conn: AsyncConnection, application_id: str) -> dict[str, Any]:
    entries = (
        (
            await conn.execute(
                sa.select(benefits).where(benefits.c.application_id == application_id).order_by(benefits.c.id)
            )
        )
        .mappings()
        .all()
    )
    items = (
        (
            await conn.execute(
                sa.select(
                    payment_items,
                    payment_batches.c.pay_date,
                    payment_batches.c.status.label("batch_status"),
                    bank_accounts.c.bank_name,
                    bank_accounts.c.last4,
                )
                .join(payment_batches, payment_batches.c.id == payment_items.c.batch_id)
                .join(bank_accounts, bank_accounts.c.id == payment_items.c.account_id)
                .where(payment_items.c.application_id == application_id)
                .order_by(payment_items.c.id)
            )
        )
        .mappings()
        .all()
    )
    payments: list[dict[str, Any]] = [
        {
            "benefit_id": i["benefit_id"],
            "period": i["period"],
            "attempt": i["attempt"],
            "amount": i["amount"],
            "status": _SETTLED.get(i["status"], "in_batch"),
            "pay_date": i["pay_date"],
            "batch_id": i["batch_id"],
            "batch_status": i["batch_status"],
            "bank_name": i["bank_name"],
            "account_masked": mask(i["last4"]),
            "failure_reason": i["failure_reason"],
            "settled_at": i["settled_at"],
        }
        for i in items
    ]
    for benefit in entries:
        mine = [i for i in items if i["benefit_id"] == benefit["id"]]
        if benefit["kind"] == "one_time" and benefit["status"] == "scheduled":
            if not any(i["status"] != "failed" for i in mine):
                payments.append(_scheduled(benefit, ONCE, benefit["starts_on"]))
        elif benefit["kind"] == "monthly":
            period = _next_month(benefit, [i["period"] for i in mine])
            if period is not None:
                payments.append(_scheduled(benefit, period, None))

    def newest_first(p: dict[str, Any]) -> tuple[date, int]:
        when = p["pay_date"] or (_month(p["period"]) if p["period"] != ONCE else date.max)
        return when, p["attempt"] or 0

    payments.sort(key=newest_first, reverse=True)
    return {"application_id": application_id, "entries": [_entry(e) for e in entries], "payments": payments}
