"""Follow-up cases (``then_start``) are asked for in the finishing case's transaction and started
by the worker in one of their own.

Revision ID: 0019_case_followups
Revises: 0018_case_numbers
Create Date: 2026-11-29 04:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision = "0019_case_followups"
down_revision = "0018_case_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("requested_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_application_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_case_followups_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_followups")),
    )
    op.create_index("ix_case_followups_pending", "case_followups", ["started_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_case_followups_pending", table_name="case_followups")
    op.drop_table("case_followups")
