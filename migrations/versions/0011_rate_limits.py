"""Rate limits shared by every replica (public objections counted in the database).

Revision ID: 0011_rate_limits
Revises: 0010
Create Date: 2026-11-28 19:45:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011_rate_limits"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index("ix_rate_limit_windows_scope_window_start", table_name="rate_limit_windows")
    op.drop_table("rate_limit_windows")
