"""A complaint telephone (监督电话) per place, printed on the notices below it.

Revision ID: 0017_complaint_phones
Revises: 0016_subscription_outbox_mark
Create Date: 2026-11-29 01:15:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0017_complaint_phones"
down_revision = "0016_subscription_outbox_mark"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("divisions") as batch:
        batch.add_column(
            sa.Column("complaint_phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("divisions") as batch:
        batch.drop_column("complaint_phone")
