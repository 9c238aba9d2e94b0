"""Authority changes in the audit trail: events get a subject (what changed, outside any case).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 16:10:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.create_index("ix_events_subject_id", ["subject", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_subject_id")
        batch_op.drop_column("subject")
