"""Accounts an administrator can close: disabled users, revoked tokens and API keys.

Revision ID: 0014_trust_accounts
Revises: 0013_growth
Create Date: 2026-11-28 20:15:00
"""

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0014_trust_accounts"
down_revision = "0013_growth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("tokens_valid_after", app.db.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("revoked_at", app.db.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("revoked_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("tokens_valid_after")
        batch.drop_column("disabled_at")
