"""events partitioned by month on PostgreSQL, id widened to bigint there; indexes prune needs (both).

Both dialects: an index on ``webhook_deliveries.outbox_id`` (the foreign key's referencing side:
without it, deleting one outbox row reads every delivery) and on ``idempotency_keys.created_at``.

The table is rebuilt: a partitioned ``events`` (primary key ``(id, at)``: a partitioned table's
keys must hold the partition key; ids still come from the same sequence, so stay unique), a
DEFAULT partition, this month's and the next three months' partitions, every row copied over.
Nothing references ``events`` by foreign key, and every query reads it by case, subject or id,
so nothing else changes. The copy is proportional to the table: on an installation with years of
events, run this migration in a maintenance window.

Revision ID: 0013_growth
Revises: 0012_timer_retries
Create Date: 2026-11-28 20:10:00
"""

from datetime import UTC, datetime

from alembic import op

revision = "0013_growth"
down_revision = "0012_timer_retries"
branch_labels = None
depends_on = None

_INDEXES = {"ix_events_application_id_id": "(application_id, id)", "ix_events_subject_id": "(subject, id)"}


def _month_sql(year: int, month0: int) -> list[str]:
    # Kept apart from app/db/partitions.py on purpose: a migration must not change when the app does.
    name = f"events_y{year:04d}m{month0 + 1:02d}"
    lo = f"{year:04d}-{month0 + 1:02d}-01 00:00:00+00"
    ny, nm0 = divmod(year * 12 + month0 + 1, 12)
    hi = f"{ny:04d}-{nm0 + 1:02d}-01 00:00:00+00"
    return [f"CREATE TABLE {name} PARTITION OF events FOR VALUES FROM ('{lo}') TO ('{hi}')"]


def _swap(old_suffix: str) -> None:
    op.execute(f"ALTER TABLE events RENAME TO events{old_suffix}")
    op.execute(f"ALTER TABLE events{old_suffix} RENAME CONSTRAINT pk_events TO pk_events{old_suffix}")
    for index in _INDEXES:
        op.execute(f"ALTER INDEX {index} RENAME TO {index}{old_suffix}")


def _finish(old_suffix: str) -> None:
    op.execute(f"INSERT INTO events SELECT * FROM events{old_suffix}")
    for index, columns in _INDEXES.items():  # built after the copy: faster than maintained during it
        op.execute(f"CREATE INDEX {index} ON events {columns}")
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    op.execute(f"DROP TABLE events{old_suffix} CASCADE")


def upgrade() -> None:
    op.create_index("ix_webhook_deliveries_outbox_id", "webhook_deliveries", ["outbox_id"])
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    _swap("_unpartitioned")
    op.execute("CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (at)")
    op.execute("ALTER TABLE events ALTER COLUMN id TYPE bigint")
    op.execute("ALTER SEQUENCE events_id_seq AS bigint")
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id, at)")
    op.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
    now = datetime.now(UTC)
    for i in range(4):
        for statement in _month_sql(*divmod(now.year * 12 + now.month - 1 + i, 12)):
            op.execute(statement)
    _finish("_unpartitioned")


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", "idempotency_keys")
    op.drop_index("ix_webhook_deliveries_outbox_id", "webhook_deliveries")
    if op.get_bind().dialect.name != "postgresql":
        return
    _swap("_partitioned")
    op.execute("CREATE TABLE events (LIKE events_partitioned INCLUDING DEFAULTS)")
    op.execute("ALTER TABLE events ALTER COLUMN id TYPE integer")
    op.execute("ALTER SEQUENCE events_id_seq AS integer")
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id)")
    _finish("_partitioned")
