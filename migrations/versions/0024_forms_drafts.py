"""Web forms follow POST/redirect/GET: a refused form's values and messages wait in form_drafts for the
page it redirects to (half an hour, any replica can show them).

Revision ID: 0024_forms_drafts
Revises: 0023_reports
Create Date: 2026-11-29 05:50:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision = "0024_forms_drafts"
down_revision = "0023_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_drafts",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("expires_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_drafts")),
    )
    with op.batch_alter_table("form_drafts") as batch:
        batch.create_index(batch.f("ix_form_drafts_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("form_drafts") as batch:
        batch.drop_index(batch.f("ix_form_drafts_expires_at"))
    op.drop_table("form_drafts")
