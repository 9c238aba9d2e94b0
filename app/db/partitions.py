"""Monthly partitions of ``events`` on PostgreSQL (SQLite keeps one plain table).

``events`` is partitioned by range of ``at`` (UTC months, ``events_y2026m11``) since migration
0013_growth, with a DEFAULT partition ``events_default`` that takes any row no month partition
holds, so an insert never fails for want of a partition (the test clock may stand in any year).
``ensure_months`` makes the coming months' partitions ahead of time; `aidflow prune` calls it.

Events are the legal record and are never dropped: partitions keep each month's rows and indexes
apart (vacuum, index depth, moving old months to cheaper storage with ``ALTER TABLE … SET
TABLESPACE``, detaching a closed year for an archive), they are not a way of deleting.
"""

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

DEFAULT = "events_default"
_PARTITION = re.compile(r"^events_(y\d{4}m\d{2}|default)$")
_LOCK = 0x41494450  # one partition maker at a time, whatever process runs it


# Indexes of PostgreSQL's own expressions, made by their migration and not declared by the models.
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_applications_name_chars"})


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's filter: partitions are storage of ``events``, not tables of the model; nor are the
    indexes of ``POSTGRESQL_ONLY_INDEXES``."""
    if type_ == "index" and name in POSTGRESQL_ONLY_INDEXES:
        return False
    table = name if type_ == "table" else parent_names.get("table_name")
    return not (table and _PARTITION.match(table))


def month_name(year: int, month: int) -> str:
    return f"events_y{year:04d}m{month:02d}"


def _months(start: datetime, count: int) -> list[tuple[int, int]]:
    index = start.year * 12 + start.month - 1
    return [divmod(i, 12) for i in range(index, index + count)]


def _bound(year: int, month0: int) -> str:
    return f"{year:04d}-{month0 + 1:02d}-01 00:00:00+00"


def create_month_sql(year: int, month0: int) -> list[str]:
    """The statements that add one month: a table like ``events``, this month's rows moved out of the
    default partition into it, then attached (attaching checks the default holds none of them).

    The default partition is locked first: an event of that month being written into it meanwhile
    (no partition for the month yet) would otherwise commit after the move, and the attach would
    fail on it. Writers routed to the default wait for this short transaction; others do not."""
    name = month_name(year, month0 + 1)
    lo = _bound(year, month0)
    hi = _bound(*divmod(year * 12 + month0 + 1, 12))
    return [
        f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE",
        f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE at >= '{lo}' AND at < '{hi}' RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved",
        f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM ('{lo}') TO ('{hi}')",
    ]


async def existing(conn: AsyncConnection) -> set[str]:
    rows = await conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
        )
    )
    return set(rows.scalars())


async def ensure_months(conn: AsyncConnection, now: datetime, ahead: int = 3) -> list[str]:
    """Make the partitions of ``now``'s month and the ``ahead`` months after it; answers those created.
    Nothing on SQLite. Safe from several processes at once (an advisory lock for the transaction)."""
    if conn.dialect.name != "postgresql":
        return []
    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    have = await existing(conn)
    created = []
    for year, month0 in _months(now, ahead + 1):
        if month_name(year, month0 + 1) in have:
            continue
        for statement in create_month_sql(year, month0):
            await conn.execute(sa.text(statement))
        created.append(month_name(year, month0 + 1))
    return created
