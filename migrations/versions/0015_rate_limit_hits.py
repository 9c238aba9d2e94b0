"""Rate limits as a sliding log of accepted hits (exact over any window, database clock), replacing
the fixed windows whose estimate let up to twice the allowance through around a window's edge.

Revision ID: 0015_rate_limit_hits
Revises: 0014_trust_accounts
Create Date: 2026-11-29 00:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0015_rate_limit_hits"
down_revision = "0014_trust_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Counts of the old windows cannot become hit times; at worst a client gets one fresh allowance.
    op.create_table(
        "rate_limit_hits",
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "client", "at_ms", name=op.f("pk_rate_limit_hits")),
    )
    op.create_index("ix_rate_limit_hits_at_ms", "rate_limit_hits", ["at_ms"])
    op.drop_index("ix_rate_limit_windows_scope_window_start", table_name="rate_limit_windows")
    op.drop_table("rate_limit_windows")


def downgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "client", "window_start", name=op.f("pk_rate_limit_windows")),
    )
    op.create_index(
        "ix_rate_limit_windows_scope_window_start", "rate_limit_windows", ["scope", "window_start"]
    )
    op.drop_index("ix_rate_limit_hits_at_ms", table_name="rate_limit_hits")
    op.drop_table("rate_limit_hits")
