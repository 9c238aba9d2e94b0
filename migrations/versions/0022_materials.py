"""Materials (材料): the attachments of a case; their bytes live in the object store.

Revision ID: 0022_materials
Revises: 0021_payments
Create Date: 2026-11-29 06:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision = "0022_materials"
down_revision = "0021_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    when = app.db.types.UTCDateTime(timezone=True)
    op.create_table(
        "attachments",
        sa.Column("id", text(length=36), nullable=False),
        sa.Column("application_id", text(length=36), nullable=False),
        sa.Column("checklist_key", text(length=64), nullable=False),
        sa.Column("file_name", text(length=120), nullable=False),
        sa.Column("content_type", text(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", text(length=64), nullable=False),
        sa.Column("storage_key", text(length=200), nullable=False),
        sa.Column("storage_backend", text(length=16), nullable=False),
        sa.Column("uploaded_by", text(length=100), nullable=False),
        sa.Column("uploaded_by_kind", text(length=16), nullable=False),
        sa.Column("task_id", text(length=36), nullable=True),
        sa.Column("uploaded_at", when, nullable=False),
        sa.Column("deleted_at", when, nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.id"], name=op.f("fk_attachments_application_id_applications")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(
        "ix_attachments_application_id_uploaded_at", "attachments", ["application_id", "uploaded_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_attachments_application_id_uploaded_at", table_name="attachments")
    op.drop_table("attachments")
