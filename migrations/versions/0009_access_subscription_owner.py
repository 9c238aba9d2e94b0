"""Webhook subscriptions record their owner's kind (user or API key) next to its name.

Existing rows get the kind their creator's name has in one table only; a name found among both
users and API keys (or neither) is left NULL: only admins may change such a subscription.

Revision ID: 0009_access
Revises: 0008
Create Date: 2026-11-28 16:40:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009_access"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("created_by_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
    op.execute("""
        UPDATE webhook_subscriptions SET created_by_kind = 'api_key'
        WHERE created_by IN (SELECT name FROM api_keys) AND created_by NOT IN (SELECT username FROM users)""")
    op.execute("""
        UPDATE webhook_subscriptions SET created_by_kind = 'user'
        WHERE created_by IN (SELECT username FROM users) AND created_by NOT IN (SELECT name FROM api_keys)""")


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("created_by_kind")
