"""working-day calendar and deadlines

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column(
            "holidays",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "working_days",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_due_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("case_due_basis", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("time_limit", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(
            sa.Column("due_basis", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(sa.Column("remind_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overdue_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_tasks_state_remind_at", ["state", "remind_at"], unique=False)

    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("working_days", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("due_basis", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_column("due_basis")
        batch_op.drop_column("working_days")
        batch_op.drop_column("scheduled_at")

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_state_remind_at")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("overdue_at")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("remind_at")
        batch_op.drop_column("due_basis")
        batch_op.drop_column("time_limit")

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("case_due_basis")
        batch_op.drop_column("case_due_at")

    op.drop_table("calendar_years")
