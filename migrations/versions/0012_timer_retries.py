"""A timer whose step fails backs off, then is set aside as failed (no retry on every poll forever).

Revision ID: 0012_timer_retries
Revises: 0011_rate_limits
Create Date: 2026-11-28 20:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision = "0012_timer_retries"
down_revision = "0011_rate_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("retry_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("failed_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.drop_column("last_error")
        batch.drop_column("failed_at")
        batch.drop_column("retry_at")
        batch.drop_column("attempts")
