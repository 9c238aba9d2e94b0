"""Payments the bank refused, due again: a failed item is paid as the next attempt of the same
benefit and period, in the next batch of its county and program built after the failure — once the
person's account in force is another one than the account it failed on, not before (until then the
batch lists it as left out, ``account_unchanged``, with the bank's reason code)."""

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import bank_accounts, payment_batches, payment_items


@dataclass(frozen=True)
class Failed:
    benefit_id: int
    period: str
    attempt: int  # the attempt that failed; the next one is attempt + 1
    application_id: str
    person_id_number: str
    recipient_name: str
    division_path: str
    amount: Decimal
    failure_code: str | None
    account_changed: bool

    def due_again(self) -> tuple[int, str, str, str, str, str, Decimal, int]:
        """The fields of ``batches.Due`` for the next attempt."""
        return (
            self.benefit_id,
            self.period,
            self.application_id,
            self.person_id_number,
            self.recipient_name,
            self.division_path,
            self.amount,
            self.attempt + 1,
        )


async def failed_before(conn: AsyncConnection, batch_id: int, county_code: str, program: str) -> list[Failed]:
    """The county's failed payments of the program with no later attempt in another batch."""
    later = payment_items.alias("later")
    current = bank_accounts.alias("current")
    rows = (
        await conn.execute(
            sa.select(payment_items, current.c.id.label("current_account"))
            .join(payment_batches, payment_batches.c.id == payment_items.c.batch_id)
            .outerjoin(
                current,
                sa.and_(
                    current.c.person_id_number == payment_items.c.person_id_number,
                    # In force: confirmed by finance and not replaced; a waiting proposal pays nobody.
                    current.c.status == "confirmed",
                    current.c.replaced_at.is_(None),
                ),
            )
            .where(
                payment_batches.c.county_code == county_code,
                payment_batches.c.program == program,
                payment_items.c.status == "failed",
                ~sa.exists().where(
                    later.c.benefit_id == payment_items.c.benefit_id,
                    later.c.period == payment_items.c.period,
                    later.c.attempt > payment_items.c.attempt,
                    later.c.batch_id != batch_id,
                ),
            )
            .order_by(payment_items.c.id)
        )
    ).mappings()
    return [
        Failed(
            r["benefit_id"],
            r["period"],
            r["attempt"],
            r["application_id"],
            r["person_id_number"],
            r["recipient_name"],
            r["division_path"],
            Decimal(r["amount"]),
            r["failure_code"],
            r["current_account"] is not None and r["current_account"] != r["account_id"],
        )
        for r in rows
    ]
