"""Amounts scheduled and paid (``metrics.MONEY_METRICS``), counted from a payment batch's items when
the batch moves: submitted for payment (scheduled), sent back (no longer scheduled), approved by the
finance office (paid). Written as report deltas in the transaction that moves the batch, so a figure
is exact the moment the move commits and a move rolled back counts nothing."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import payment_batches, payment_items, report_deltas
from app.domain.reports import metrics
from app.shapes import RowLike

# verb of the batch's audit record → (metric, sign)
MOVES: dict[str, tuple[tuple[str, int], ...]] = {
    "submitted": (("amount_scheduled", 1),),
    "refused": (("amount_scheduled", -1),),
    "approved": (("amount_paid", 1),),
}

Totals = dict[tuple[str, date, str, str], tuple[int, Decimal]]


async def _items_by_place(conn: AsyncConnection, batch_ids: sa.ColumnElement[bool]) -> Totals:
    """Items per (township, pay month, program), for the batches matched: count and yuan."""
    rows = await conn.execute(
        sa.select(
            payment_items.c.division_path,
            payment_batches.c.pay_date,
            payment_batches.c.program,
            payment_batches.c.status,
            sa.func.count(),
            sa.func.sum(payment_items.c.amount),
        )
        .join(payment_batches, payment_batches.c.id == payment_items.c.batch_id)
        .where(batch_ids)
        .group_by(
            payment_items.c.division_path,
            payment_batches.c.pay_date,
            payment_batches.c.program,
            payment_batches.c.status,
        )
    )
    totals: Totals = defaultdict(lambda: (0, Decimal(0)))
    for path, pay_date, program, status, n, amount in rows:
        key = (metrics.grain_path(path), pay_date.replace(day=1), program, status)
        before = totals[key]
        totals[key] = (before[0] + int(n), before[1] + Decimal(amount))
    return totals


async def batch_moved(conn: AsyncConnection, verb: str, batch: RowLike) -> None:
    """Deltas for a batch that was just submitted, refused or approved (other verbs count nothing)."""
    moves = MOVES.get(verb)
    if not moves:
        return
    totals = await _items_by_place(conn, payment_batches.c.id == batch["id"])
    rows = [
        {
            "month": month,
            "program": program,
            "place_path": path,
            "metric": metric,
            "count": sign * n,
            "amount": sign * amount,
        }
        for (path, month, program, _), (n, amount) in sorted(totals.items())
        for metric, sign in moves
    ]
    if rows:
        await conn.execute(sa.insert(report_deltas), rows)


async def current(conn: AsyncConnection) -> dict[tuple[str, date, str, str], tuple[int, Decimal]]:
    """What the batches hold now, as rollup keys (township, month, program, metric): for a rebuild."""
    totals = await _items_by_place(conn, payment_batches.c.status.in_(("submitted", "approved")))
    found: dict[tuple[str, date, str, str], tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
    for (path, month, program, status), (n, amount) in totals.items():
        metrics_now = ["amount_scheduled", "amount_paid"] if status == "approved" else ["amount_scheduled"]
        for metric in metrics_now:
            before = found[(path, month, program, metric)]
            found[(path, month, program, metric)] = (before[0] + n, before[1] + amount)
    return found
