"""A place's figures month by month (the reports page's trend): the same sums as ``figures.summary``,
grouped by month as well, so each month's row adds up to the summary over the months."""

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import report_deltas, report_rollups
from app.domain.people.principal import path_range
from app.domain.reports import metrics
from app.domain.reports.figures import STOCK_SOURCES, Figures, Scope


def months_of(where: Scope) -> list[date]:
    """Every month from the first to the last of the scope (first days), in order."""
    found, month = [], where.first_month
    while month <= where.last_month:
        found.append(month)
        month = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
    return found


def _monthly(table: sa.Table, where: Scope) -> sa.Select[Any]:
    """Sums per month and figure; the stock figures' sources from every month up to the last (a month's
    value of a stock is everything up to it, as the summary of that month reads it)."""
    query = sa.select(
        table.c.month, table.c.metric, sa.func.sum(table.c.count), sa.func.sum(table.c.amount)
    ).where(
        path_range(table.c.place_path, where.path),
        table.c.month <= where.last_month,
        sa.or_(table.c.month >= where.first_month, table.c.metric.in_(STOCK_SOURCES)),
        *where.program_filter(table.c.program),  # the programs the caller reads
    )
    if table is report_rollups:  # the coarsest grain that still holds the place (as the summary reads)
        query = query.where(table.c.grain == metrics.grain_for(metrics.depth(where.path)))
    return query.group_by(table.c.month, table.c.metric)


async def by_month(conn: AsyncConnection, where: Scope) -> list[dict[str, object]]:
    """One row per month of the scope (months without figures too): ``month`` (its first day) and the
    figures of ``Figures.view`` for that month."""
    per_month = {month: Figures() for month in months_of(where)}
    for table in (report_rollups, report_deltas):
        for month, metric, n, amount in (await conn.execute(_monthly(table, where))).all():
            at, name = _as_date(month), str(metric)
            if at >= where.first_month:
                per_month[at].add(name, int(n), Decimal(str(amount)))
            if name in STOCK_SOURCES:
                for later in (m for m in per_month if m >= at):
                    per_month[later].add_stock(name, int(n), Decimal(str(amount)))
    return [{"month": month, **figures.view()} for month, figures in per_month.items()]


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
