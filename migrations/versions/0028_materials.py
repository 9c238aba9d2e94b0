"""Materials, what was left of issue 19: signatures drawn on the task page (who signed, when) and the
index the orphan sweep asks whether any row still names an object in the store.

Revision ID: 0028_materials
Revises: 0027_paytrust
Create Date: 2026-11-29 09:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision = "0028_materials"
down_revision = "0027_paytrust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(
            sa.Column("signer_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch.add_column(sa.Column("signed_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_attachments_storage_key", ["storage_key"])


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_index("ix_attachments_storage_key")
        batch.drop_column("signed_at")
        batch.drop_column("signer_name")
