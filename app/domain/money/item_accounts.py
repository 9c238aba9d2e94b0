"""Which account each batch item pays to: the person's account in force (confirmed by the county
finance office, not replaced), and whether it differs from the one their last paid batch paid to — the
flag the approver of a batch sees (``account_changed_since_last_payment``)."""

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import bank_accounts, payment_batches, payment_items

_CHUNK = 500  # keys per IN (...) list, well under every driver's parameter limit


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


async def current(conn: AsyncConnection, people: Sequence[str]) -> dict[str, int]:
    """Each person's account in force: confirmed by the county finance office, not replaced since. A
    proposal waiting for confirmation pays nobody."""
    found: dict[str, int] = {}
    for chunk in _chunks(people):
        rows = await conn.execute(
            sa.select(bank_accounts.c.person_id_number, bank_accounts.c.id).where(
                bank_accounts.c.person_id_number.in_(chunk),
                bank_accounts.c.status == "confirmed",
                bank_accounts.c.replaced_at.is_(None),
            )
        )
        found.update({str(person): int(account) for person, account in rows.all()})
    return found


# Batches past approval (approved, and whatever the bank steps add after it) have sent their money.
UNSENT = ("draft", "submitted")


async def last_paid(conn: AsyncConnection, batch_id: int, people: Sequence[str]) -> dict[str, int]:
    """The account each person's latest payment went to: their newest item, not failed, in another
    batch past approval (newest by pay date, then item). People never paid are not in the answer."""
    found: dict[str, int] = {}
    for chunk in _chunks(people):
        ranked = (
            sa.select(
                payment_items.c.person_id_number,
                payment_items.c.account_id,
                sa.func.row_number()
                .over(
                    partition_by=payment_items.c.person_id_number,
                    order_by=(payment_batches.c.pay_date.desc(), payment_items.c.id.desc()),
                )
                .label("rank"),
            )
            .join(payment_batches, payment_batches.c.id == payment_items.c.batch_id)
            .where(
                payment_items.c.person_id_number.in_(chunk),
                payment_items.c.batch_id != batch_id,
                payment_items.c.status != "failed",
                payment_batches.c.status.notin_(UNSENT),
            )
            .subquery()
        )
        rows = await conn.execute(
            sa.select(ranked.c.person_id_number, ranked.c.account_id).where(ranked.c.rank == 1)
        )
        found.update({str(person): int(account) for person, account in rows.all()})
    return found


def changed(person: str, account_id: int, last_paid: dict[str, int]) -> bool:
    """Paid before, and to another account version than this one (a new row even for the same number:
    every change passed through a proposal and deserves the approver's look)."""
    return person in last_paid and last_paid[person] != account_id


async def refresh(
    conn: AsyncConnection,
    kept: Sequence[Any],
    due_keys: set[tuple[int, str]],
    accounts: dict[str, int],
    last_paid_to: dict[str, int],
) -> None:
    """A draft built again: its kept items (same ids) pay to the account in force now — a change
    confirmed since the last build — and are flagged anew."""
    rows = []
    for r in kept:
        if (r.benefit_id, r.period) not in due_keys:
            continue
        account = accounts[r.person_id_number]
        flag = changed(r.person_id_number, account, last_paid_to)
        if r.account_id != account or r.account_changed != flag:
            rows.append({"item_id": r.id, "new_account": account, "flag": flag})
    if rows:
        await conn.execute(
            sa.update(payment_items)
            .where(payment_items.c.id == sa.bindparam("item_id"))
            .values(account_id=sa.bindparam("new_account"), account_changed=sa.bindparam("flag")),
            rows,
        )
