"""Report figures: delta rows appended by case changes and the rollups the worker folds them into
(docs/reports.md).

Revision ID: 0023_reports
Revises: 0022_materials
Create Date: 2026-11-29 06:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_reports"
down_revision = "0022_materials"
branch_labels = None
depends_on = None

PATH = sa.String(512).with_variant(sa.String(512, collation="C"), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_deltas",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("program", sa.String(100), nullable=False),
        sa.Column("place_path", PATH, nullable=False),
        sa.Column("metric", sa.String(160), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    )
    op.create_index("ix_report_deltas_place", "report_deltas", ["place_path", "month"])
    op.create_table(
        "report_rollups",
        sa.Column("grain", sa.SmallInteger(), primary_key=True),
        sa.Column("place_path", PATH, primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("program", sa.String(100), primary_key=True),
        sa.Column("metric", sa.String(160), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_rollups")
    op.drop_index("ix_report_deltas_place", "report_deltas")
    op.drop_table("report_deltas")
