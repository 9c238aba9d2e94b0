"""public notices and objections

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("issuer", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("division_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "division_path",
            sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("posted_on", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column(
            "postings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("starts_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["division_code"], ["divisions.code"], name=op.f("fk_notices_division_code_divisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint(
            "program",
            "step",
            "division_code",
            "posted_on",
            "round",
            name=op.f("uq_notices_program_step_division_code_posted_on_round"),
        ),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_division_path_ends_at", ["division_path", "ends_at"], unique=False)

    op.create_table(
        "notice_entries",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("notice_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "public",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("ends_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_notice_entries_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_entries_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_entries")),
        sa.UniqueConstraint("notice_id", "number", name=op.f("uq_notice_entries_notice_id_number")),
    )
    with op.batch_alter_table("notice_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_entries_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notice_entries_notice_id"), ["notice_id"], unique=False)

    op.create_table(
        "objections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("check_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("notice_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("entry_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("contact", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("answered_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.id"], name=op.f("fk_objections_application_id_applications")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["notice_entries.id"], name=op.f("fk_objections_entry_id_notice_entries")
        ),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_objections_notice_id_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objections")),
        sa.UniqueConstraint("number", name=op.f("uq_objections_number")),
    )
    with op.batch_alter_table("objections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objections_application_id"), ["application_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("objections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objections_application_id"))

    op.drop_table("objections")
    with op.batch_alter_table("notice_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_entries_notice_id"))
        batch_op.drop_index(batch_op.f("ix_notice_entries_application_id"))

    op.drop_table("notice_entries")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_division_path_ends_at")

    op.drop_table("notices")
