"""Payments: batches per county, program and pay date, their items (unique per benefit, period and
attempt), what a batch left out, bank accounts stored encrypted, the worker's daily scans, and why an
enrolment ended.

Revision ID: 0021_payments
Revises: 0020_inbox_indexes
Create Date: 2026-11-29 05:59:47.069300
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision = "0021_payments"
down_revision = "0020_inbox_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id_number", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("holder_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("bank_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("number_encrypted", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("last4", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column("key_fingerprint", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("set_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("set_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_accounts")),
    )
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bank_accounts_current",
            ["person_id_number"],
            unique=True,
            postgresql_where=sa.text("replaced_at IS NULL"),
            sqlite_where=sa.text("replaced_at IS NULL"),
        )
        batch_op.create_index("ix_bank_accounts_person", ["person_id_number", "id"], unique=False)

    op.create_table(
        "payment_scans",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("batches_built", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_payment_scans")),
    )
    op.create_table(
        "payment_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "county_path",
            sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("pay_date", sa.Date(), nullable=False),
        sa.Column("pay_month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("total_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("left_out_count", sa.Integer(), nullable=False),
        sa.Column("built_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("built_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("submitted_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("submitted_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("approved_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refused_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("refused_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> submitted_by", name="ck_payment_batches_two_people"
        ),
        sa.ForeignKeyConstraint(
            ["county_code"], ["divisions.code"], name=op.f("fk_payment_batches_county_code_divisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_batches")),
        sa.UniqueConstraint(
            "county_code", "program", "pay_date", name=op.f("uq_payment_batches_county_code_program_pay_date")
        ),
    )
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.create_index("ix_payment_batches_county_path", ["county_path", "pay_date"], unique=False)

    op.create_table(
        "payment_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("benefit_id", sa.Integer(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("person_id_number", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("recipient_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column(
            "division_path",
            sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("bank_reference", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("failure_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("settled_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["bank_accounts.id"], name=op.f("fk_payment_items_account_id_bank_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["payment_batches.id"], name=op.f("fk_payment_items_batch_id_payment_batches")
        ),
        sa.ForeignKeyConstraint(
            ["benefit_id"], ["benefits.id"], name=op.f("fk_payment_items_benefit_id_benefits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_items")),
        sa.UniqueConstraint(
            "benefit_id", "period", "attempt", name=op.f("uq_payment_items_benefit_id_period_attempt")
        ),
    )
    with op.batch_alter_table("payment_items", schema=None) as batch_op:
        batch_op.create_index("ix_payment_items_batch", ["batch_id", "id"], unique=False)

    op.create_table(
        "payment_left_out",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("benefit_id", sa.Integer(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["payment_batches.id"], name=op.f("fk_payment_left_out_batch_id_payment_batches")
        ),
        sa.ForeignKeyConstraint(
            ["benefit_id"], ["benefits.id"], name=op.f("fk_payment_left_out_benefit_id_benefits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_left_out")),
        sa.UniqueConstraint(
            "batch_id", "benefit_id", "period", name=op.f("uq_payment_left_out_batch_id_benefit_id_period")
        ),
    )
    with op.batch_alter_table("benefits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ended_reason", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.create_index("ix_benefits_program_path", ["program", "division_path"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("benefits", schema=None) as batch_op:
        batch_op.drop_index("ix_benefits_program_path")
        batch_op.drop_column("ended_reason")

    op.drop_table("payment_left_out")
    with op.batch_alter_table("payment_items", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_items_batch")

    op.drop_table("payment_items")
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_batches_county_path")

    op.drop_table("payment_batches")
    op.drop_table("payment_scans")
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_accounts_person")
        batch_op.drop_index(
            "ix_bank_accounts_current",
            postgresql_where=sa.text("replaced_at IS NULL"),
            sqlite_where=sa.text("replaced_at IS NULL"),
        )

    op.drop_table("bank_accounts")
