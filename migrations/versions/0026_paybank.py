"""To the bank and back (issue 22 items 3 and 5): who exported a batch when, when it was settled, and
per item the bank's failure code and the day the bank paid or refused it.

Revision ID: 0026_paybank
Revises: 0025_inbox_search
Create Date: 2026-11-29 09:15:00
"""

import sqlalchemy as sa
from alembic import op

import app.db.types

revision = "0026_paybank"
down_revision = "0025_inbox_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_batches") as batch:
        batch.add_column(sa.Column("exported_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("exported_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("settled_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("payment_items") as batch:
        batch.add_column(sa.Column("failure_code", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("bank_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_items") as batch:
        batch.drop_column("bank_date")
        batch.drop_column("failure_code")
    with op.batch_alter_table("payment_batches") as batch:
        batch.drop_column("settled_at")
        batch.drop_column("exported_at")
        batch.drop_column("exported_by")
