"""Folding report deltas into rollups (worker) and rebuilding the rollups from the audit trail (CLI)."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import applications, events, report_deltas, report_rollups, tasks
from app.domain.reports import amounts, durations, metrics
from app.domain.timekeeping import calendar
from app.shapes import AnyRow

FOLD_BATCH = 5000

Key = tuple[str, date, str, str]  # place_path (at the finest grain), month, program, metric
Totals = dict[Key, tuple[int, Decimal]]

_TAKE_BATCH = (
    sa.delete(report_deltas)
    .where(
        report_deltas.c.id.in_(
            # Several workers take disjoint batches (SQLite: one writer at a time anyway).
            sa.select(report_deltas.c.id)
            .order_by(report_deltas.c.id)
            .limit(sa.bindparam("batch"))
            .with_for_update(skip_locked=True)
        )
    )
    .returning(
        report_deltas.c.place_path,
        report_deltas.c.month,
        report_deltas.c.program,
        report_deltas.c.metric,
        report_deltas.c.count,
        report_deltas.c.amount,
    )
)


async def fold(conn: AsyncConnection, batch: int = FOLD_BATCH) -> int:
    """Move one batch of deltas into the rollups in the caller's transaction: the deltas taken are
    deleted in the same commit that adds them, so each counts exactly once. Returns how many."""
    taken = (await conn.execute(_TAKE_BATCH, {"batch": batch})).all()
    totals: Totals = defaultdict(lambda: (0, Decimal(0)))
    for place_path, month, program, metric, count, amount in taken:
        key = (place_path, month, program, metric)
        before = totals[key]
        totals[key] = (before[0] + count, before[1] + Decimal(amount))
    await _add(conn, totals)
    return len(taken)


async def _add(conn: AsyncConnection, totals: Totals) -> int:
    """Add to the rollups at every grain. Upsert in key order, so two workers touching the same rollups never wait on each other in a circle."""
    if not totals:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    at_grains: dict[tuple[int, str, date, str, str], tuple[int, Decimal]] = defaultdict(
        lambda: (0, Decimal(0))
    )
    for (place_path, month, program, metric), (count, amount) in totals.items():
        for grain in metrics.GRAINS:
            key = (grain, metrics.cut(place_path, grain), month, program, metric)
            before = at_grains[key]
            at_grains[key] = (before[0] + count, before[1] + amount)
    rows = [
        {
            "grain": k[0],
            "place_path": k[1],
            "month": k[2],
            "program": k[3],
            "metric": k[4],
            "count": c,
            "amount": a,
        }
        for k, (c, a) in sorted(at_grains.items())
    ]
    statement = insert(report_rollups)
    statement = statement.on_conflict_do_update(
        index_elements=["grain", "place_path", "month", "program", "metric"],
        set_={
            "count": report_rollups.c.count + statement.excluded.count,
            "amount": report_rollups.c.amount + statement.excluded.amount,
        },
    )
    for start in range(0, len(rows), 1000):
        await conn.execute(statement, rows[start : start + 1000])
    return len(rows)


_TRAIL_TYPES = (
    *metrics.EVENT_METRICS,
    *metrics.DATA_EVENT_TYPES,
    "task.completed",
    "application.status_changed",
)
_OUTCOME_EVENTS = {f"application.{status}": status for status in metrics.OUTCOMES}


async def rebuild(conn: AsyncConnection) -> int:
    """Recompute every rollup from the audit trail, with the rule the Recorder applies; returns the
    number of rollup rows. Run in one transaction: on PostgreSQL the deltas table is locked first, so a
    change committing meanwhile waits and then counts once (its delta survives, its events were not read)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("LOCK TABLE report_deltas IN EXCLUSIVE MODE"))
    await conn.execute(sa.delete(report_deltas))
    await conn.execute(sa.delete(report_rollups))
    query = (
        sa.select(
            events.c.type,
            events.c.at,
            events.c.application_id,
            events.c.data,
            applications.c.program,
            applications.c.division_path,
            tasks.c.name.label("task_name"),
            tasks.c.due_at,
            tasks.c.created_at.label("task_created_at"),
            tasks.c.division_path.label("task_path"),
        )
        .join(applications, applications.c.id == events.c.application_id)
        .outerjoin(tasks, tasks.c.id == events.c.task_id)
        .where(events.c.type.in_([*_TRAIL_TYPES, *_OUTCOME_EVENTS]))
        .order_by(events.c.id)
    )
    totals: Totals = defaultdict(lambda: (0, Decimal(0)))
    outcomes_seen: set[tuple[str, str]] = set()
    days = await calendar.load(conn)
    result = await conn.stream(query)
    async for row in result:
        # A step counts at the place that holds it (the Recorder is given the task's place), the rest at the case's.
        place = row.task_path if row.type == "task.completed" and row.task_path else row.division_path
        found = _metrics_of(row, outcomes_seen)
        if row.type == "task.completed" and row.task_name is not None and row.task_created_at is not None:
            taken = durations.days_taken(days, row.task_created_at, row.at)
            found.append((metrics.days_metric(row.task_name, taken), 1, Decimal(0)))
        for metric, count, amount in found:
            key = (metrics.grain_path(place), metrics.month_of(row.at), row.program, metric)
            totals[key] = (totals[key][0] + count, totals[key][1] + amount)
    # Amounts scheduled and paid: what the payment batches hold now.
    for key, (count, amount) in (await amounts.current(conn)).items():
        totals[key] = (totals[key][0] + count, totals[key][1] + amount)
    return await _add(conn, totals)


def _metrics_of(row: AnyRow, outcomes_seen: set[tuple[str, str]]) -> list[metrics.Delta]:
    """An outcome counts once per case (the Recorder: once per change, and a case reaches each once)."""
    status = _OUTCOME_EVENTS.get(row.type)
    if row.type == "application.status_changed":
        status = row.data.get("to") if row.data.get("to") in metrics.OUTCOMES else None
    if status is not None:
        if (row.application_id, status) in outcomes_seen:
            return []
        outcomes_seen.add((row.application_id, status))
        return [(status, 1, Decimal(0))]
    task = {"name": row.task_name, "due_at": row.due_at} if row.task_name is not None else None
    return metrics.event_deltas(row.type, task, row.at, row.data)
