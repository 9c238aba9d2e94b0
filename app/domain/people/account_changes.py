"""Changes to existing accounts by administrators and by users themselves: passwords, enabling and
disabling, names and grants, revoking tokens and API keys — each audited, each ending the sessions
and tokens it must."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import api_keys, grants, users, web_sessions
from app.domain import audit
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.people import accounts, credentials
from app.domain.people.principal import ADMIN


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=200)


class OwnPasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


async def _user_row(conn: AsyncConnection, username: str) -> sa.Row[Any, Any, Any]:
    row = (
        await conn.execute(
            sa.select(users.c.id, users.c.active, users.c.tokens_valid_after).where(
                users.c.username == username
            )
        )
    ).first()
    if row is None:
        raise NotFound("unknown_user", f"no user {username!r}", username=username)
    return row


async def _end_tokens_and_sessions(conn: AsyncConnection, username: str) -> datetime:
    """Bearer tokens issued before now are refused (their iat), web sessions end (rows deleted)."""
    now = clock.real_now()
    await conn.execute(sa.update(users).where(users.c.username == username).values(tokens_valid_after=now))
    await conn.execute(sa.delete(web_sessions).where(web_sessions.c.username == username))
    return now


async def set_password(conn: AsyncConnection, username: str, password: str, actor: str) -> dict[str, Any]:
    """A new password (by the user, or by an admin for them); it revokes the user's tokens and
    sessions and lifts a lock-out. The audit names who did it, never the value or the hash."""
    await _user_row(conn, username)
    credentials.check_password(password, username)
    await conn.execute(
        sa.update(users)
        .where(users.c.username == username)
        .values(password_hash=credentials.hash_password(password), failed_logins=0, locked_until=None)
    )
    revoked_at = await _end_tokens_and_sessions(conn, username)
    await audit.record_change(
        conn,
        actor,
        "user.password_changed",
        f"user:{username}",
        None,
        {"by": "self" if actor == username else "admin", "tokens_revoked": True},
    )
    return {"username": username, "tokens_valid_after": revoked_at}


async def set_active(conn: AsyncConnection, username: str, active: bool, actor: str) -> dict[str, Any]:
    """Disable (cannot log in; tokens and sessions stop at once) or enable a user again. Enabling
    does not bring old tokens back: the user logs in anew. An admin cannot disable themselves."""
    row = await _user_row(conn, username)
    if not active and username == actor:
        raise Conflict("cannot_disable_self", "an administrator cannot disable their own account")
    if row.active != active:
        await conn.execute(
            sa.update(users)
            .where(users.c.username == username)
            .values(active=active, disabled_at=None if active else clock.real_now())
        )
        await audit.record_change(
            conn,
            actor,
            "user.enabled" if active else "user.disabled",
            f"user:{username}",
            {"active": row.active},
            {"active": active},
        )
    if not active:
        await _end_tokens_and_sessions(conn, username)
    return {"username": username, "active": active}


class UserChangeIn(BaseModel):
    """What an administrator may change of a user: the name shown and the grants (replaced whole)."""

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    grants: list[accounts.GrantIn] | None = Field(default=None, max_length=100)


def _grant_key(g: dict[str, Any]) -> tuple[str, str]:
    return g["role"], g["division_code"] or ""


async def update_user(conn: AsyncConnection, username: str, body: UserChangeIn, actor: str) -> dict[str, Any]:
    """Rename or re-grant a user; in force on their next request (grants are read on every one).
    An administrator cannot take the admin role from themselves (someone must be left to give it)."""
    row = await _user_row(conn, username)
    current = (await conn.execute(sa.select(users.c.display_name).where(users.c.id == row.id))).scalar_one()
    old_grants = sorted(
        (
            {"role": r.role, "division_code": r.division_code}
            for r in (
                await conn.execute(
                    sa.select(grants.c.role, grants.c.division_code).where(grants.c.user_id == row.id)
                )
            ).all()
        ),
        key=_grant_key,
    )
    name = body.display_name.strip() if body.display_name is not None else current
    if not name:
        raise Invalid("blank_display_name", "the display name cannot be blank")
    if name != current:
        await conn.execute(sa.update(users).where(users.c.id == row.id).values(display_name=name))
        await audit.record_change(
            conn, actor, "user.updated", f"user:{username}", {"display_name": current}, {"display_name": name}
        )
    new_grants = old_grants
    if body.grants is not None:
        await accounts.check_grants(conn, body.grants)
        new_grants = sorted(
            ({"role": g.role, "division_code": g.division_code} for g in body.grants), key=_grant_key
        )
        new_grants = [g for i, g in enumerate(new_grants) if i == 0 or new_grants[i - 1] != g]
        if (
            username == actor
            and any(g["role"] == ADMIN for g in old_grants)
            and not any(g["role"] == ADMIN for g in new_grants)
        ):
            raise Conflict(
                "cannot_remove_own_admin", "an administrator cannot take the admin role from themselves"
            )
        if new_grants != old_grants:
            await conn.execute(sa.delete(grants).where(grants.c.user_id == row.id))
            await accounts.insert_grants(conn, [accounts.GrantIn(**g) for g in new_grants], user_id=row.id)
            await audit.record_change(
                conn,
                actor,
                "user.grants_changed",
                f"user:{username}",
                {"grants": old_grants},
                {"grants": new_grants},
            )
    return {"username": username, "display_name": name, "grants": new_grants}


async def revoke_tokens(conn: AsyncConnection, username: str, actor: str) -> dict[str, Any]:
    """Every bearer token issued so far and every web session of the user stop working."""
    row = await _user_row(conn, username)
    revoked_at = await _end_tokens_and_sessions(conn, username)
    await audit.record_change(
        conn,
        actor,
        "user.tokens_revoked",
        f"user:{username}",
        {"tokens_valid_after": row.tokens_valid_after.isoformat() if row.tokens_valid_after else None},
        {"tokens_valid_after": revoked_at.isoformat()},
    )
    return {"username": username, "tokens_valid_after": revoked_at}


async def revoke_api_key(conn: AsyncConnection, name: str, actor: str) -> dict[str, Any]:
    """The key stops working at once (looked up on every request); revoking is final — issue a new key."""
    row = (
        await conn.execute(sa.select(api_keys.c.active, api_keys.c.revoked_at).where(api_keys.c.name == name))
    ).first()
    if row is None:
        raise NotFound("unknown_api_key", f"no API key named {name!r}", name=name)
    revoked_at = row.revoked_at
    if row.active:
        revoked_at = clock.real_now()
        await conn.execute(
            sa.update(api_keys).where(api_keys.c.name == name).values(active=False, revoked_at=revoked_at)
        )
        await audit.record_change(
            conn, actor, "api_key.revoked", f"api_key:{name}", {"active": True}, {"active": False}
        )
    return {"name": name, "active": False, "revoked_at": revoked_at}
