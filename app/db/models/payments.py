"""Payments: batches built from the benefits ledger, their items, what was left out, and the
recipients' bank accounts (encrypted)."""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models.base import timestamp
from app.db.types import PathType


class PaymentBatch(SQLModel, table=True):
    """One county's payments of one program on one pay date (发放批次): prepared by the program's county
    office, approved by the county finance office."""

    __tablename__ = "payment_batches"
    __table_args__ = (
        sa.UniqueConstraint("county_code", "program", "pay_date"),
        # Maker and checker are two people, whatever the code above this table does.
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> submitted_by", name="ck_payment_batches_two_people"
        ),
        # Nor does whoever built the batch (a clerk holding both roles) approve it.
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> built_by", name="ck_payment_batches_builder_not_approver"
        ),
        sa.Index("ix_payment_batches_county_path", "county_path", "pay_date"),
    )
    id: int | None = Field(default=None, primary_key=True)
    county_code: str = Field(foreign_key="divisions.code", max_length=32)
    county_path: str = Field(sa_type=PathType)
    program: str = Field(max_length=100)
    pay_date: date = Field(sa_type=sa.Date())
    pay_month: str = Field(max_length=7)  # 2026-12: the month monthly enrolments are paid for
    # draft → submitted → approved → exported → settled; a refusal sends a submitted batch back to draft.
    status: str = Field(max_length=16)
    item_count: int = 0
    total_amount: Decimal = Field(default=Decimal(0), sa_type=sa.Numeric(14, 2))
    left_out_count: int = 0
    # Items whose account differs from the one the person's last paid batch paid to.
    account_changed_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    built_at: datetime = timestamp()
    built_by: str = Field(max_length=100)
    submitted_by: str | None = Field(default=None, max_length=100)
    submitted_at: datetime | None = timestamp(nullable=True)
    approved_by: str | None = Field(default=None, max_length=100)
    approved_at: datetime | None = timestamp(nullable=True)
    refused_by: str | None = Field(default=None, max_length=100)
    refused_at: datetime | None = timestamp(nullable=True)
    refusal_reason: str | None = Field(default=None, max_length=500)
    # The last export to the bank (money/bank_files.py; every export is in the audit trail) and when
    # the last item got the bank's result (money/bank_results.py).
    exported_by: str | None = Field(default=None, max_length=100)
    exported_at: datetime | None = timestamp(nullable=True)
    settled_at: datetime | None = timestamp(nullable=True)


class PaymentItem(SQLModel, table=True):
    """One benefit paid for one period. The unique key (benefit, period, attempt) is what keeps two
    builders — two replicas, the worker and a clerk — from paying a period twice; a failed payment is
    paid again as the next attempt."""

    __tablename__ = "payment_items"
    __table_args__ = (
        sa.UniqueConstraint("benefit_id", "period", "attempt"),
        sa.Index("ix_payment_items_batch", "batch_id", "id"),
        # A case's payment history, and each person's last paid account when a batch is built.
        sa.Index("ix_payment_items_application", "application_id", "id"),
        sa.Index("ix_payment_items_person", "person_id_number", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="payment_batches.id")
    benefit_id: int = Field(foreign_key="benefits.id")
    period: str = Field(max_length=7)  # 2026-12 for a monthly enrolment, "once" for a one-time payment
    attempt: int = 1
    application_id: str = Field(max_length=36)
    person_id_number: str = Field(max_length=18)
    recipient_name: str = Field(max_length=100)
    division_path: str = Field(sa_type=PathType)
    amount: Decimal = Field(sa_type=sa.Numeric(12, 2))
    # The account version paid to (a corrected account is a new row, the old one stays for the record).
    account_id: int = Field(foreign_key="bank_accounts.id")
    # The account differs from the one the person's last paid batch paid to: the approver looks twice.
    account_changed: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # pending until the bank's result file says paid or failed.
    status: str = Field(default="pending", max_length=16)
    bank_reference: str | None = Field(default=None, max_length=100)
    failure_reason: str | None = Field(default=None, max_length=200)
    # The bank's own reason code of a failure (its Chinese text is failure_reason), and the day the bank
    # says it paid or refused; settled_at is when its result file was read.
    failure_code: str | None = Field(default=None, max_length=32)
    bank_date: date | None = Field(default=None, sa_type=sa.Date(), nullable=True)
    settled_at: datetime | None = timestamp(nullable=True)


class PaymentLeftOut(SQLModel, table=True):
    """A benefit a batch did not pay, and why (deceased, ended, cap, no bank account). Rebuilt with the
    batch; never blocks a later payment of the same period."""

    __tablename__ = "payment_left_out"
    __table_args__ = (sa.UniqueConstraint("batch_id", "benefit_id", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="payment_batches.id")
    benefit_id: int = Field(foreign_key="benefits.id")
    period: str = Field(max_length=7)
    amount: Decimal = Field(sa_type=sa.Numeric(12, 2))
    reason: str = Field(max_length=32)
    detail: str | None = Field(default=None, max_length=200)


class BankAccount(SQLModel, table=True):
    """A recipient's bank account (一卡通). The number is stored encrypted (``money/vault.py``) with its
    last four digits for display. A change is a proposal (``status = proposed``) by the paying office
    that takes effect only when the county finance office — another person — confirms it; the account
    it replaces is then marked replaced."""

    __tablename__ = "bank_accounts"
    __table_args__ = (
        # One account in force per person, even under two clerks saving at once.
        sa.Index(
            "ix_bank_accounts_current",
            "person_id_number",
            unique=True,
            postgresql_where=sa.text("replaced_at IS NULL AND status = 'confirmed'"),
            sqlite_where=sa.text("replaced_at IS NULL AND status = 'confirmed'"),
        ),
        # One proposal waiting per person: a new one supersedes it.
        sa.Index(
            "ix_bank_accounts_proposed",
            "person_id_number",
            unique=True,
            postgresql_where=sa.text("status = 'proposed'"),
            sqlite_where=sa.text("status = 'proposed'"),
        ),
        # Proposer and confirmer are two people, whatever the code above this table does.
        sa.CheckConstraint(
            "confirmed_by IS NULL OR confirmed_by <> set_by", name="ck_bank_accounts_two_people"
        ),
        sa.Index("ix_bank_accounts_person", "person_id_number", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    person_id_number: str = Field(max_length=18)
    holder_name: str = Field(max_length=100)
    bank_name: str = Field(max_length=100)
    number_encrypted: str = Field(max_length=500)
    last4: str = Field(max_length=4)
    # Which key encrypted it (a fingerprint, not the key): rotation re-encrypts the others.
    key_fingerprint: str = Field(max_length=16)
    set_by: str = Field(max_length=100)  # who proposed it
    set_at: datetime = timestamp()
    replaced_at: datetime | None = timestamp(nullable=True)
    # proposed → confirmed (in force until replaced) | refused | superseded (a newer proposal came).
    # Accounts stored before proposals existed are confirmed with nobody in confirmed_by.
    status: str = Field(default="proposed", max_length=16)
    confirmed_by: str | None = Field(default=None, max_length=100)
    confirmed_at: datetime | None = timestamp(nullable=True)
    refused_by: str | None = Field(default=None, max_length=100)
    refused_at: datetime | None = timestamp(nullable=True)
    refusal_reason: str | None = Field(default=None, max_length=500)


class PaymentScan(SQLModel, table=True):
    """The worker's daily look for batches to build: the first worker of a day inserts the day's row
    and does it; the others (other replicas, later rounds) find the row and skip."""

    __tablename__ = "payment_scans"
    day: date = Field(primary_key=True, sa_type=sa.Date())
    at: datetime = timestamp()
    batches_built: int = 0
