"""Amounts scheduled and paid (``metrics.MONEY_METRICS``), month of the batch's pay date.

Scheduled: the items of a batch submitted for payment; a batch sent back takes them out again, and so
does the bank refusing an item (its next attempt, in a later batch, is scheduled there). Paid: the
items the bank's result file says it paid (``money/bank_results.py``), not the finance office's
approval: until the bank answers, money approved is not money paid. Written as report deltas in the
transaction that moves the batch or records the results, so a figure is exact the moment the change
commits and a change rolled back counts nothing."""

from collections import defaultdict
from collections.abc import Collection
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
}
# an item's result from the bank → (metric, sign)
RESULTS: dict[str, tuple[tuple[str, int], ...]] = {
    "paid": (("amount_paid", 1),),
    "failed": (("amount_scheduled", -1),),
}
# Batches whose items count as scheduled (a draft or a refused batch schedules nothing).
SCHEDULED_BATCHES = ("submitted", "approved", "exported", "settled")

Key = tuple[str, date, str, str]  # township path, month, program, and a batch or item status
Totals = dict[Key, tuple[int, Decimal]]


async def _items_by_place(
    conn: AsyncConnection, which: sa.ColumnElement[bool], state: str | None = None
) -> Totals:
    """Items per (township, pay month, program, item status) for the items matched: count and yuan;
    with ``state``, that word stands for every item's status."""
    grouped = [payment_items.c.division_path, payment_batches.c.pay_date, payment_batches.c.program]
    if state is None:
        grouped.append(payment_items.c.status)
    rows = await conn.execute(
        sa.select(*grouped, sa.func.count(), sa.func.sum(payment_items.c.amount))
        .join(payment_batches, payment_batches.c.id == payment_items.c.batch_id)
        .where(which)
        .group_by(*grouped)
    )
    totals: Totals = defaultdict(lambda: (0, Decimal(0)))
    for row in rows:
        path, pay_date, program = row[0], row[1], row[2]
        n, amount = row[-2], row[-1]
        key = (metrics.grain_path(path), pay_date.replace(day=1), program, state or row[3])
        before = totals[key]
        totals[key] = (before[0] + int(n), before[1] + Decimal(amount))
    return totals


async def _write(
    conn: AsyncConnection, totals: Totals, moves: dict[str, tuple[tuple[str, int], ...]]
) -> None:
    rows = [
        {
            "month": month,
            "program": program,
            "place_path": path,
            "metric": metric,
            "count": sign * n,
            "amount": sign * amount,
        }
        for (path, month, program, state), (n, amount) in sorted(totals.items())
        for metric, sign in moves.get(state, ())
    ]
    if rows:
        await conn.execute(sa.insert(report_deltas), rows)


async def batch_moved(conn: AsyncConnection, verb: str, batch: RowLike) -> None:
    """Deltas for a batch just submitted or sent back (other verbs count nothing). A batch is sent back
    before it is exported, so none of its items has a bank result yet."""
    moves = MOVES.get(verb)
    if not moves:
        return
    totals = await _items_by_place(conn, payment_batches.c.id == batch["id"], verb)
    await _write(conn, totals, {verb: moves})


async def results_recorded(conn: AsyncConnection, item_ids: Collection[int]) -> None:
    """Deltas for items whose bank result was just recorded: paid counts as paid, refused leaves the
    scheduled figure (its next attempt is scheduled with the batch that carries it)."""
    if not item_ids:
        return
    totals = await _items_by_place(conn, payment_items.c.id.in_(sorted(item_ids)))
    await _write(conn, totals, RESULTS)


async def current(conn: AsyncConnection) -> Totals:
    """What the batches and the bank's results hold now, as rollup keys (township, month, program,
    metric): for a rebuild, by the same rules as the deltas above."""
    totals = await _items_by_place(conn, payment_batches.c.status.in_(SCHEDULED_BATCHES))
    found: Totals = defaultdict(lambda: (0, Decimal(0)))
    for (path, month, program, status), (n, amount) in totals.items():
        metrics_now = {"paid": ["amount_scheduled", "amount_paid"], "failed": []}.get(
            status, ["amount_scheduled"]
        )
        for metric in metrics_now:
            before = found[(path, month, program, metric)]
            found[(path, month, program, metric)] = (before[0] + n, before[1] + amount)
    return found
