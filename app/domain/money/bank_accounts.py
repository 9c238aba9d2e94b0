"""Recipients' bank accounts (一卡通): stored encrypted (``vault.py``), shown as the last four digits.

A change is a *proposal* by a county office that pays the person (the preparing role of one of their
programs); it takes effect only when a person of the county finance office — never the proposer —
confirms it, or is refused with a reason. The holder must be the recipient: the holder's name is
compared with the applicant's name on the person's cases. Each step is an audit event naming account
ids only (never the number, never the reason's text). No webhook carries accounts."""

import re
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import applications, bank_accounts, benefits
from app.domain import audit
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.money import offices, reasons
from app.domain.money.vault import Vault, mask
from app.domain.people import id_numbers
from app.domain.people.principal import Principal

# Chinese bank card and account numbers: digits only, 12 to 30 of them.
ACCOUNT_NUMBER = re.compile(r"^[0-9]{12,30}$")
# Spaces (also the full-width one) and the middle dots of minority names written several ways.
_SPACES = re.compile(r"\s+")
_DOTS = str.maketrans({"•": "·", "・": "·", "．": "·", "｡": "·"})
STATUSES = ("proposed", "confirmed", "refused", "superseded")


class AccountIn(BaseModel):
    person_id_number: str = Field(min_length=18, max_length=18)
    holder_name: str = Field(min_length=1, max_length=100)
    bank_name: str = Field(min_length=1, max_length=100)
    account_number: str = Field(min_length=12, max_length=30)


def same_name(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return _SPACES.sub("", text).translate(_DOTS)

    return bool(norm(a)) and norm(a) == norm(b)


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


async def recipient_names(conn: AsyncConnection, person_id_number: str) -> set[str]:
    """The names the person's paid cases record for them (what a batch item's recipient_name is)."""
    rows = await conn.execute(
        sa.select(applications.c.applicant)
        .join(benefits, benefits.c.application_id == applications.c.id)
        .where(benefits.c.person_id_number == person_id_number)
        .distinct()
    )
    return {str((applicant or {}).get("name") or "") for (applicant,) in rows.all()} - {""}


async def _check_holder(conn: AsyncConnection, person_id_number: str, holder_name: str) -> None:
    names = await recipient_names(conn, person_id_number)
    if not any(same_name(holder_name, name) for name in names):
        raise Invalid(
            "holder_name_mismatch",
            "开户人姓名与申请书记载的救助对象姓名不一致：待遇只能发放到本人账户",
            field="holder_name",
        )


def _holds(me: Principal, roles: set[str], path: str) -> bool:
    return any(g.role in roles and g.division_path and path.startswith(g.division_path) for g in me.grants)


def _check_person(person_id_number: str) -> None:
    if not id_numbers.is_valid(person_id_number):
        raise Invalid("invalid_id_number", "身份证号码无效", field="person_id_number")


def masked_id(id_number: str) -> str:
    return id_number[:4] + "*" * 10 + id_number[-4:]


def view(row: sa.RowMapping | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": row["id"],
        "person_id_masked": masked_id(row["person_id_number"]),
        "holder_name": row["holder_name"],
        "bank_name": row["bank_name"],
        "account_masked": mask(row["last4"]),
        "status": row["status"],
        "in_force": row["status"] == "confirmed" and row["replaced_at"] is None,
        "set_by": row["set_by"],
        "set_at": row["set_at"],
        "confirmed_by": row["confirmed_by"],
        "confirmed_at": row["confirmed_at"],
        "refused_by": row["refused_by"],
        "refused_at": row["refused_at"],
        "refusal_reason": row["refusal_reason"],
        "replaced_at": row["replaced_at"],
    }


def _in_force(person_id_number: str) -> sa.Select[Any]:
    return sa.select(bank_accounts).where(
        bank_accounts.c.person_id_number == person_id_number,
        bank_accounts.c.status == "confirmed",
        bank_accounts.c.replaced_at.is_(None),
    )


async def _reader_check(conn: AsyncConnection, me: Principal, person_id_number: str) -> None:
    places = await _money_places(conn, person_id_number)
    if not me.is_admin and not any(_holds(me, {o.preparer, o.approver}, path) for o, path in places):
        raise NotFound("person_not_paid_here", "您所在单位不向此人发放待遇")


async def current(conn: AsyncConnection, me: Principal, person_id_number: str) -> dict[str, Any] | None:
    """The account in force, masked; for the offices that pay the person (and administrators)."""
    _check_person(person_id_number)
    await _reader_check(conn, me, person_id_number)
    return view((await conn.execute(_in_force(person_id_number))).mappings().first())


async def _lock(conn: AsyncConnection, person_id_number: str) -> None:
    """Two clerks (or a clerk and finance) at once on one person: one after the other. SQLite has
    one writer."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": "bank_account:" + person_id_number},
        )


async def propose(conn: AsyncConnection, me: Principal, vault: Vault, body: AccountIn) -> dict[str, Any]:
    """A new account for the person, waiting for the county finance office; a proposal already
    waiting is superseded by it."""
    _check_person(body.person_id_number)
    number = body.account_number.replace(" ", "")
    if not ACCOUNT_NUMBER.match(number):
        raise Invalid("invalid_account_number", "银行账号应为 12 至 30 位数字", field="account_number")
    places = await _money_places(conn, body.person_id_number)
    if me.kind != "user" or not any(_holds(me, {o.preparer}, path) for o, path in places):
        raise Forbidden("not_payment_office", "只有向此人发放待遇的县级主管部门可以申请变更其银行账号")
    holder = body.holder_name.strip()
    await _check_holder(conn, body.person_id_number, holder)
    await _lock(conn, body.person_id_number)
    now = clock.now()
    superseded = (
        await conn.execute(
            sa.update(bank_accounts)
            .where(
                bank_accounts.c.person_id_number == body.person_id_number,
                bank_accounts.c.status == "proposed",
            )
            .values(status="superseded")
            .returning(bank_accounts.c.id)
        )
    ).scalar()
    new_id = (
        await conn.execute(
            sa.insert(bank_accounts)
            .values(
                person_id_number=body.person_id_number,
                holder_name=holder,
                bank_name=body.bank_name.strip(),
                number_encrypted=vault.encrypt(number),
                last4=number[-4:],
                key_fingerprint=vault.current,
                set_by=me.name,
                set_at=now,
                status="proposed",
            )
            .returning(bank_accounts.c.id)
        )
    ).scalar_one()
    in_force = (await conn.execute(_in_force(body.person_id_number))).mappings().first()
    await audit.record_change(
        conn,
        me.name,
        "bank_account.proposed",
        f"bank_account:{new_id}",
        {"account_id": superseded} if superseded else None,
        {"account_id": new_id, "status": "proposed", "replaces": in_force["id"] if in_force else None},
    )
    return await _view_of(conn, new_id)


async def _view_of(conn: AsyncConnection, account_id: int) -> dict[str, Any]:
    row = (
        (await conn.execute(sa.select(bank_accounts).where(bank_accounts.c.id == account_id)))
        .mappings()
        .one()
    )
    result = view(row)
    assert result is not None
    if row["status"] == "proposed":  # what it would replace, for the checker to compare
        before = (await conn.execute(_in_force(row["person_id_number"]))).mappings().first()
        result["replaces"] = view(before)
    return result


async def _readable_change(conn: AsyncConnection, me: Principal, account_id: int) -> sa.RowMapping:
    row = (
        (await conn.execute(sa.select(bank_accounts).where(bank_accounts.c.id == account_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("account_not_found", f"没有银行账号 {account_id}")
    try:
        await _reader_check(conn, me, row["person_id_number"])
    except NotFound:
        raise NotFound("account_not_found", f"没有银行账号 {account_id}") from None
    return row


async def get_change(conn: AsyncConnection, me: Principal, account_id: int) -> dict[str, Any]:
    await _readable_change(conn, me, account_id)
    return await _view_of(conn, account_id)


async def _check_checker(conn: AsyncConnection, me: Principal, row: sa.RowMapping, action: str) -> None:
    places = await _money_places(conn, row["person_id_number"])
    if me.kind != "user" or not any(_holds(me, {o.approver}, path) for o, path in places):
        raise Forbidden("not_payment_office", f"只有县级财政部门可以{action}", role=offices.FINANCE)
    if row["set_by"] == me.name:
        raise Forbidden("same_person_account", "申请变更银行账号的人不能自己确认")


async def confirm(conn: AsyncConnection, me: Principal, account_id: int) -> dict[str, Any]:
    """The county finance office puts the proposed account in force; the one in force is replaced."""
    row = await _readable_change(conn, me, account_id)
    await _check_checker(conn, me, row, "确认银行账号变更")
    await _check_holder(conn, row["person_id_number"], row["holder_name"])
    await _lock(conn, row["person_id_number"])
    now = clock.now()
    # The guard first: a proposal refused, superseded or confirmed meanwhile is left as it is.
    done = (
        await conn.execute(
            sa.update(bank_accounts)
            .where(
                bank_accounts.c.id == account_id,
                bank_accounts.c.status == "proposed",
                bank_accounts.c.set_by != me.name,
            )
            .values(status="confirming")
            .returning(bank_accounts.c.id)
        )
    ).scalar()
    if done is None:
        raise Conflict("account_change_not_proposed", "该银行账号变更不是待确认状态（可能已被他人处理）")
    replaced = (
        await conn.execute(
            sa.update(bank_accounts)
            .where(
                bank_accounts.c.person_id_number == row["person_id_number"],
                bank_accounts.c.status == "confirmed",
                bank_accounts.c.replaced_at.is_(None),
            )
            .values(replaced_at=now)
            .returning(bank_accounts.c.id)
        )
    ).scalar()
    await conn.execute(
        sa.update(bank_accounts)
        .where(bank_accounts.c.id == account_id)
        .values(status="confirmed", confirmed_by=me.name, confirmed_at=now)
    )
    await audit.record_change(
        conn,
        me.name,
        "bank_account.confirmed",
        f"bank_account:{account_id}",
        {"account_id": replaced} if replaced else None,
        {"account_id": account_id, "status": "confirmed"},
    )
    return await _view_of(conn, account_id)


async def refuse(conn: AsyncConnection, me: Principal, account_id: int, reason: str) -> dict[str, Any]:
    """The county finance office refuses the proposal, with why (kept on the row, not in the audit)."""
    text = reasons.clean(reason)
    row = await _readable_change(conn, me, account_id)
    await _check_checker(conn, me, row, "退回银行账号变更")
    done = (
        await conn.execute(
            sa.update(bank_accounts)
            .where(
                bank_accounts.c.id == account_id,
                bank_accounts.c.status == "proposed",
                bank_accounts.c.set_by != me.name,
            )
            .values(status="refused", refused_by=me.name, refused_at=clock.now(), refusal_reason=text)
            .returning(bank_accounts.c.id)
        )
    ).scalar()
    if done is None:
        raise Conflict("account_change_not_proposed", "该银行账号变更不是待确认状态（可能已被他人处理）")
    await audit.record_change(
        conn,
        me.name,
        "bank_account.refused",
        f"bank_account:{account_id}",
        {"account_id": account_id, "status": "proposed"},
        {"account_id": account_id, "status": "refused"},
    )
    return await _view_of(conn, account_id)


async def changes(conn: AsyncConnection, me: Principal, status: str, limit: int) -> list[dict[str, Any]]:
    """Account changes of people the caller's office pays (or checks), newest first: what the county
    finance office has to confirm (``status=proposed``)."""
    candidates = (
        await conn.execute(
            sa.select(bank_accounts.c.id, benefits.c.program, benefits.c.division_path)
            .join(benefits, benefits.c.person_id_number == bank_accounts.c.person_id_number)
            .where(bank_accounts.c.status == status, me.visible(benefits.c.division_path))
            .distinct()
        )
    ).all()
    by_program: dict[str, offices.Offices | None] = {}
    allowed: set[int] = set()
    for account_id, program, path in candidates:
        if program not in by_program:
            try:
                by_program[program] = await offices.of_program(conn, program)
            except Invalid:
                by_program[program] = None
        found = by_program[program]
        if found and (me.is_admin or _holds(me, {found.preparer, found.approver}, path)):
            allowed.add(int(account_id))
    result = []
    for account_id in sorted(allowed, reverse=True)[:limit]:
        result.append(await _view_of(conn, account_id))
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
