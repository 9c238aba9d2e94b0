"""``payment.*`` webhook events: a batch approved, exported, settled, and each payment the bank refused.

They carry a batch's identity, counts and sums — never a recipient's name, ID number or account
(``webhooks/events.py`` declares the fields, ``public_data`` drops anything else). They are outbox
rows of the change's own transaction, placed at the batch's county, so a subscription receives the
payments of the places it covers (a township's subscription receives none: batches are per county).
"""

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import outbox, payment_items
from app.domain.webhooks.events import public_data


async def _publish(conn: AsyncConnection, type_: str, county_path: str, data: dict[str, Any]) -> None:
    now = clock.now()
    await conn.execute(
        sa.insert(outbox).values(
            event_type=type_,
            application_id=None,
            division_path=county_path,
            created_at=now,
            payload={
                "id": str(uuid.uuid4()),
                "type": type_,
                "time": now.isoformat(),
                "application_id": None,
                "program": data["program"],
                "division_code": data["county_code"],
                "task": None,
                "data": public_data(type_, data),
            },
        )
    )


async def batch_figures(conn: AsyncConnection, batch_id: int) -> dict[str, Any]:
    """How many items of the batch are paid and failed, and their sums (strings with two decimals)."""
    rows = (
        await conn.execute(
            sa.select(
                payment_items.c.status,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(payment_items.c.amount), 0),
            )
            .where(payment_items.c.batch_id == batch_id)
            .group_by(payment_items.c.status)
        )
    ).all()
    by_status = {status: (int(count), Decimal(total)) for status, count, total in rows}
    paid = by_status.get("paid", (0, Decimal(0)))
    failed = by_status.get("failed", (0, Decimal(0)))
    return {
        "paid": paid[0],
        "paid_total": f"{paid[1]:.2f}",
        "failed": failed[0],
        "failed_total": f"{failed[1]:.2f}",
    }


async def batch_event(conn: AsyncConnection, verb: str, batch: sa.RowMapping) -> None:
    """``payment.batch_<verb>`` (approved, exported, settled)."""
    data = {
        "batch_id": batch["id"],
        "county_code": batch["county_code"],
        "program": batch["program"],
        "pay_date": batch["pay_date"].isoformat(),
        "status": batch["status"],
        "items": batch["item_count"],
        "total": f"{Decimal(batch['total_amount']):.2f}",
        **await batch_figures(conn, batch["id"]),
    }
    await _publish(conn, f"payment.batch_{verb}", batch["county_path"], data)


async def item_failed(
    conn: AsyncConnection, batch: sa.RowMapping, item: sa.RowMapping, code: str | None
) -> None:
    data = {
        "batch_id": batch["id"],
        "item_id": item["id"],
        "county_code": batch["county_code"],
        "program": batch["program"],
        "period": item["period"],
        "attempt": item["attempt"],
        "amount": f"{Decimal(item['amount']):.2f}",
        "reason_code": code,
    }
    await _publish(conn, "payment.item_failed", batch["county_path"], data)
