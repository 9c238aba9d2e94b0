"""Payments made trustworthy (issue 22 review): a bank account change is a proposal that a second
person of the county finance office confirms or refuses (status, confirmed_by/at, refused_by/at/reason;
one account in force and one proposal waiting per person; proposer and confirmer differ); a batch item
records whether its account differs from the person's last paid one; whoever built a batch does not
approve it; payment items are indexed by case (its payment history) and by person (their last paid
account). Accounts stored before this revision stay in force (confirmed, nobody in confirmed_by).

Revision ID: 0027_paytrust
Revises: 0026_paybank
Create Date: 2026-11-29 09:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision = "0027_paytrust"
down_revision = "0026_paybank"
branch_labels = None
depends_on = None

CURRENT = "ix_bank_accounts_current"
PROPOSED = "ix_bank_accounts_proposed"


def upgrade() -> None:
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.drop_index(CURRENT)
        # The default only fills the rows already there: new rows always say what they are.
        batch_op.add_column(
            sa.Column(
                "status",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="confirmed",
            )
        )
        batch_op.add_column(
            sa.Column("confirmed_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("confirmed_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("refused_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("refused_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("refusal_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.alter_column("status", server_default=None)
        batch_op.create_check_constraint(
            "ck_bank_accounts_two_people", "confirmed_by IS NULL OR confirmed_by <> set_by"
        )
        batch_op.create_index(
            CURRENT,
            ["person_id_number"],
            unique=True,
            postgresql_where=sa.text("replaced_at IS NULL AND status = 'confirmed'"),
            sqlite_where=sa.text("replaced_at IS NULL AND status = 'confirmed'"),
        )
        batch_op.create_index(
            PROPOSED,
            ["person_id_number"],
            unique=True,
            postgresql_where=sa.text("status = 'proposed'"),
            sqlite_where=sa.text("status = 'proposed'"),
        )
    with op.batch_alter_table("payment_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account_changed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_payment_items_application", ["application_id", "id"], unique=False)
        batch_op.create_index("ix_payment_items_person", ["person_id_number", "id"], unique=False)
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account_changed_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_check_constraint(
            "ck_payment_batches_builder_not_approver", "approved_by IS NULL OR approved_by <> built_by"
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.drop_constraint("ck_payment_batches_builder_not_approver", type_="check")
        batch_op.drop_column("account_changed_count")
    with op.batch_alter_table("payment_items", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_items_person")
        batch_op.drop_index("ix_payment_items_application")
        batch_op.drop_column("account_changed")
    # Proposals never confirmed have no place in the older schema (one row in force per person).
    op.execute("DELETE FROM bank_accounts WHERE status <> 'confirmed'")
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.drop_index(PROPOSED)
        batch_op.drop_index(CURRENT)
        batch_op.drop_constraint("ck_bank_accounts_two_people", type_="check")
        for column in (
            "refusal_reason",
            "refused_at",
            "refused_by",
            "confirmed_at",
            "confirmed_by",
            "status",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.create_index(
            CURRENT,
            ["person_id_number"],
            unique=True,
            postgresql_where=sa.text("replaced_at IS NULL"),
            sqlite_where=sa.text("replaced_at IS NULL"),
        )
