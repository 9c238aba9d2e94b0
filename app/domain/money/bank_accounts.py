"""Recipients' bank accounts (一卡通): stored encrypted (``vault.py``), shown as the last four digits,
changed only by a program's county office for a person it pays, each change an audit event (which
account replaced which; never the number). No webhook carries them."""

import re
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import bank_accounts, benefits
from app.domain import audit
from app.domain.errors import Forbidden, Invalid, NotFound
from app.domain.money import offices
from app.domain.money.vault import Vault, mask
from app.domain.people import id_numbers
from app.domain.people.principal import Principal

# Chinese bank card and account numbers: digits only, 12 to 30 of them.
ACCOUNT_NUMBER = re.compile(r"^[0-9]{12,30}$")


class AccountIn(BaseModel):
    person_id_number: str = Field(min_length=18, max_length=18)
    holder_name: str = Field(min_length=1, max_length=100)
    bank_name: str = Field(min_length=1, max_length=100)
    account_number: str = Field(min_length=12, max_length=30)


async def _money_places(conn: AsyncConnection, person_id_number: str) -> list[tuple[offices.Offices, str]]:
    """For each of the person's benefits: who handles its money, and where."""
    rows = (
        await conn.execute(
            sa.select(benefits.c.program, benefits.c.division_path)
            .where(benefits.c.person_id_number == person_id_number)
            .distinct()
        )
    ).all()
    by_program: dict[str, offices.Offices] = {}
    found: list[tuple[offices.Offices, str]] = []
    for program, path in rows:
        if program not in by_program:
            try:
                by_program[program] = await offices.of_program(conn, program)
            except Invalid:
                continue  # a program without an owner department pays nobody through batches
        found.append((by_program[program], path))
    return found


def _holds(me: Principal, roles: set[str], path: str) -> bool:
    return any(g.role in roles and g.division_path and path.startswith(g.division_path) for g in me.grants)


def _check_person(person_id_number: str) -> None:
    if not id_numbers.is_valid(person_id_number):
        raise Invalid("invalid_id_number", "身份证号码无效", field="person_id_number")


def view(row: sa.RowMapping | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": row["id"],
        "holder_name": row["holder_name"],
        "bank_name": row["bank_name"],
        "account_masked": mask(row["last4"]),
        "set_by": row["set_by"],
        "set_at": row["set_at"],
    }


async def current(conn: AsyncConnection, me: Principal, person_id_number: str) -> dict[str, Any] | None:
    """The account in force, masked; for the offices that pay the person (and administrators)."""
    _check_person(person_id_number)
    places = await _money_places(conn, person_id_number)
    if not me.is_admin and not any(_holds(me, {o.preparer, o.approver}, path) for o, path in places):
        raise NotFound("person_not_paid_here", "您所在单位不向此人发放待遇")
    row = (
        (
            await conn.execute(
                sa.select(bank_accounts).where(
                    bank_accounts.c.person_id_number == person_id_number,
                    bank_accounts.c.replaced_at.is_(None),
                )
            )
        )
        .mappings()
        .first()
    )
    return view(row)


async def put(conn: AsyncConnection, me: Principal, vault: Vault, body: AccountIn) -> dict[str, Any]:
    _check_person(body.person_id_number)
    number = body.account_number.replace(" ", "")
    if not ACCOUNT_NUMBER.match(number):
        raise Invalid("invalid_account_number", "银行账号应为 12 至 30 位数字", field="account_number")
    places = await _money_places(conn, body.person_id_number)
    if me.kind != "user" or not any(_holds(me, {o.preparer}, path) for o, path in places):
        raise Forbidden("not_payment_office", "只有向此人发放待遇的县级主管部门可以变更其银行账号")
    if conn.dialect.name == "postgresql":  # two clerks at once: one after the other (SQLite has one writer)
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": "bank_account:" + body.person_id_number},
        )
    now = clock.now()
    replaced = (
        await conn.execute(
            sa.update(bank_accounts)
            .where(
                bank_accounts.c.person_id_number == body.person_id_number,
                bank_accounts.c.replaced_at.is_(None),
            )
            .values(replaced_at=now)
            .returning(bank_accounts.c.id)
        )
    ).scalar()
    new_id = (
        await conn.execute(
            sa.insert(bank_accounts)
            .values(
                person_id_number=body.person_id_number,
                holder_name=body.holder_name.strip(),
                bank_name=body.bank_name.strip(),
                number_encrypted=vault.encrypt(number),
                last4=number[-4:],
                key_fingerprint=vault.current,
                set_by=me.name,
                set_at=now,
            )
            .returning(bank_accounts.c.id)
        )
    ).scalar_one()
    await audit.record_change(
        conn,
        me.name,
        "bank_account.changed" if replaced else "bank_account.added",
        f"bank_account:{new_id}",
        {"account_id": replaced} if replaced else None,
        {"account_id": new_id},
    )
    row = (await conn.execute(sa.select(bank_accounts).where(bank_accounts.c.id == new_id))).mappings().one()
    result = view(row)
    assert result is not None
    return result


async def number_of(conn: AsyncConnection, vault: Vault, account_id: int) -> str:
    """The full number, for the bank file only (never an API response)."""
    token = (
        await conn.execute(
            sa.select(bank_accounts.c.number_encrypted).where(bank_accounts.c.id == account_id)
        )
    ).scalar()
    if token is None:
        raise NotFound("account_not_found", f"没有银行账号 {account_id}")
    return vault.decrypt(token)


async def rotate(conn: AsyncConnection, vault: Vault, limit: int = 500) -> int:
    """Re-encrypt up to ``limit`` accounts not under the first key; returns how many (0: done)."""
    rows = (
        await conn.execute(
            sa.select(bank_accounts.c.id, bank_accounts.c.number_encrypted)
            .where(bank_accounts.c.key_fingerprint != vault.current)
            .limit(limit)
        )
    ).all()
    for account_id, token in rows:
        await conn.execute(
            sa.update(bank_accounts)
            .where(bank_accounts.c.id == account_id)
            .values(number_encrypted=vault.rotate(token), key_fingerprint=vault.current)
        )
    return len(rows)
