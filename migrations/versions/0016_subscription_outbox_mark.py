"""A subscription receives the outbox rows after the newest one committed when it was made (an
order the database gives) instead of those written after its creation time (replica clocks).

Revision ID: 0016_subscription_outbox_mark
Revises: 0015_rate_limit_hits
Create Date: 2026-11-29 00:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_subscription_outbox_mark"
down_revision = "0015_rate_limit_hits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.add_column(sa.Column("after_outbox_id", sa.BigInteger(), nullable=True))
    # Existing subscriptions keep what they received: the rows written before they were made.
    op.execute(
        "UPDATE webhook_subscriptions SET after_outbox_id = COALESCE((SELECT max(o.id) FROM outbox o "
        "WHERE o.created_at < webhook_subscriptions.created_at), 0)"
    )
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column(
            "after_outbox_id", existing_type=sa.BigInteger(), nullable=False, server_default="0"
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_column("after_outbox_id")
