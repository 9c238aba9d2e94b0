"""Users, API keys and grants: creating and changing them, and the principal a login or key stands for.

Passwords, the lock-out and tokens are ``people.credentials``."""

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import api_keys, divisions, grants, users
from app.domain import audit
from app.domain.errors import Conflict, Invalid, Unauthorized
from app.domain.people import credentials
from app.domain.people import divisions as division_service
from app.domain.people.principal import ADMIN, GrantScope, Principal
from app.domain.programs import definitions


class GrantIn(BaseModel):
    role: str = Field(min_length=1, max_length=64)
    division_code: str | None = None


class UserIn(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,100}$")
    # Strength is checked by check_password (code weak_password), not here: a 422 that says why.
    password: str = Field(min_length=1, max_length=200)
    display_name: str = Field(min_length=1, max_length=200)
    grants: list[GrantIn] = Field(default_factory=list)


class ApiKeyIn(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,100}$")
    grants: list[GrantIn] = Field(default_factory=list)


async def check_grants(conn: AsyncConnection, items: list[GrantIn]) -> None:
    """A grant names a role of a department some deployed process works with, at a place of that
    role's level: a misspelt role or a county role at a township would otherwise be accepted and
    silently do nothing (or, worse, something at the wrong level)."""
    known: set[str] | None = None
    for g in items:
        division_service.check_role(g.role)
        if g.division_code is None:
            if g.role != ADMIN:
                raise Invalid("grant_needs_division", f"a {g.role!r} grant needs a division_code")
            continue
        division = await division_service.get(conn, g.division_code)
        if division is None:
            raise Invalid(
                "unknown_division",
                f"division {g.division_code!r} does not exist",
                division_code=g.division_code,
            )
        if g.role in division_service.SPECIAL_ROLES:
            continue
        level = division_service.role_level(g.role)
        if level != division["level"]:
            raise Invalid(
                "role_level_mismatch",
                f"role {g.role!r} is a {level} role; {g.division_code} is a {division['level']}",
                role=g.role,
                division_code=g.division_code,
            )
        # A department some deployed process works with: a village committee's civil-affairs member
        # holds no step of their own yet sees their village's cases, but "civl_affairs" is a typo.
        if known is None:
            known = {
                department
                for r in await definitions.role_keys(conn)
                if (department := division_service.role_department(r)) is not None
            }
        if division_service.role_department(g.role) not in known:
            raise Invalid(
                "unknown_role",
                f"no deployed process works with the department of role {g.role!r}; "
                "deploy the process first or check the spelling",
                role=g.role,
                departments=sorted(known),
            )


async def insert_grants(conn: AsyncConnection, items: list[GrantIn], **owner: int) -> None:
    if items:
        await conn.execute(
            sa.insert(grants), [{"role": g.role, "division_code": g.division_code, **owner} for g in items]
        )


# Password rules (issue 15): long enough, not one repeated character, not the username, and what
# zxcvbn scores at least 3 ("safely unguessable") — it knows common passwords, words and patterns.
async def create_user(conn: AsyncConnection, body: UserIn, created_by: str) -> dict[str, Any]:
    credentials.check_password(body.password, body.username)
    await check_grants(conn, body.grants)
    if (await conn.execute(sa.select(users.c.id).where(users.c.username == body.username))).first():
        raise Conflict("username_taken", f"user {body.username!r} already exists")
    # Users and API keys share the names recorded as actors, assignees and owners: one name, one holder.
    if (await conn.execute(sa.select(api_keys.c.id).where(api_keys.c.name == body.username))).first():
        raise Conflict("username_taken", f"an API key is named {body.username!r}; choose another username")
    user_id = (
        await conn.execute(
            sa.insert(users)
            .values(
                username=body.username,
                display_name=body.display_name,
                password_hash=credentials.hash_password(body.password),
                active=True,
                created_at=clock.now(),
            )
            .returning(users.c.id)
        )
    ).scalar_one()
    await insert_grants(conn, body.grants, user_id=user_id)
    await audit.record_change(
        conn,
        created_by,
        "user.created",
        f"user:{body.username}",
        None,
        {"display_name": body.display_name, "grants": [g.model_dump() for g in body.grants]},
    )
    return {
        "id": user_id,
        "username": body.username,
        "display_name": body.display_name,
        "grants": [g.model_dump() for g in body.grants],
    }


async def create_api_key(conn: AsyncConnection, body: ApiKeyIn, created_by: str) -> dict[str, Any]:
    await check_grants(conn, body.grants)
    if (await conn.execute(sa.select(api_keys.c.id).where(api_keys.c.name == body.name))).first():
        raise Conflict("api_key_name_taken", f"an API key named {body.name!r} already exists")
    if (await conn.execute(sa.select(users.c.id).where(users.c.username == body.name))).first():
        raise Conflict(
            "api_key_name_taken", f"a user is named {body.name!r}; choose another name for the key"
        )
    key = "af_" + secrets.token_urlsafe(32)
    key_id = (
        await conn.execute(
            sa.insert(api_keys)
            .values(
                name=body.name,
                key_hash=credentials.hash_api_key(key),
                active=True,
                created_by=created_by,
                created_at=clock.now(),
            )
            .returning(api_keys.c.id)
        )
    ).scalar_one()
    await insert_grants(conn, body.grants, api_key_id=key_id)
    await audit.record_change(
        conn,
        created_by,
        "api_key.created",
        f"api_key:{body.name}",
        None,
        {"grants": [g.model_dump() for g in body.grants]},
    )
    return {"id": key_id, "name": body.name, "key": key, "grants": [g.model_dump() for g in body.grants]}


def _with_grants(
    owner: sa.Table, owner_fk: sa.ColumnElement[bool], *where: sa.ColumnElement[bool]
) -> sa.Select[Any]:
    """One round trip: the owner row and its grants (a row per grant; grant columns NULL when none)."""
    return (
        sa.select(owner.c.id, grants.c.role, grants.c.division_code, divisions.c.path)
        .select_from(
            owner.outerjoin(grants, owner_fk == owner.c.id).outerjoin(
                divisions, divisions.c.code == grants.c.division_code
            )
        )
        .where(*where)
    )


def _scopes(rows: Iterable[sa.Row[Any]]) -> tuple[GrantScope, ...]:
    return tuple(GrantScope(r.role, r.division_code, r.path) for r in rows if r.role is not None)


# Read on every request: built once (see ``cases.store`` on why).
_USER_WITH_GRANTS = _with_grants(
    users, grants.c.user_id, users.c.username == sa.bindparam("username"), users.c.active
).add_columns(users.c.tokens_valid_after)
_KEY_WITH_GRANTS = _with_grants(
    api_keys, grants.c.api_key_id, api_keys.c.key_hash == sa.bindparam("key_hash"), api_keys.c.active
).add_columns(api_keys.c.name)


async def principal_for_user(
    conn: AsyncConnection, username: str, issued_at: datetime | None = None
) -> Principal:
    """Read on every request (never cached): a disabled user or a revoked token stops at once on
    every replica. ``issued_at`` is a bearer token's iat; web sessions are deleted when revoked."""
    rows = (await conn.execute(_USER_WITH_GRANTS, {"username": username})).all()
    if not rows:
        raise Unauthorized("invalid_token", "the account no longer exists or is disabled")
    valid_after = rows[0].tokens_valid_after
    if issued_at is not None and valid_after is not None and issued_at < valid_after:
        raise Unauthorized("invalid_token", "the bearer token was revoked; log in again")
    return Principal(username, "user", _scopes(rows))


async def principal_for_api_key(conn: AsyncConnection, key: str) -> Principal:
    rows = (await conn.execute(_KEY_WITH_GRANTS, {"key_hash": credentials.hash_api_key(key)})).all()
    if not rows:
        raise Unauthorized("invalid_api_key", "the API key is unknown or revoked")
    return Principal(rows[0].name, "api_key", _scopes(rows))


async def ensure_admin(conn: AsyncConnection, password: str) -> bool:
    """Create ``admin`` with the global admin role unless a user of that name exists."""
    if (await conn.execute(sa.select(users.c.id).where(users.c.username == "admin"))).first():
        return False
    await create_user(
        conn,
        UserIn(username="admin", password=password, display_name="系统管理员", grants=[GrantIn(role=ADMIN)]),
        "system",
    )
    return True


async def display_name(conn: AsyncConnection, username: str) -> str:
    return (
        await conn.execute(sa.select(users.c.display_name).where(users.c.username == username))
    ).scalar() or username


async def list_users(conn: AsyncConnection, limit: int = 500) -> list[dict[str, Any]]:
    """Users with their grants (for the admin page), by username."""
    rows = await conn.execute(
        sa.select(
            users.c.username,
            users.c.display_name,
            users.c.active,
            users.c.locked_until,
            grants.c.role,
            grants.c.division_code,
        )
        .select_from(users.outerjoin(grants, grants.c.user_id == users.c.id))
        .order_by(users.c.username, grants.c.id)
    )
    found: dict[str, dict[str, Any]] = {}
    for r in rows:
        locked = r.locked_until is not None and r.locked_until > clock.real_now()
        user = found.setdefault(
            r.username,
            {
                "username": r.username,
                "display_name": r.display_name,
                "active": r.active,
                "locked": locked,
                "grants": [],
            },
        )
        if r.role is not None:
            user["grants"].append({"role": r.role, "division_code": r.division_code})
    return list(found.values())[:limit]


# The day someone leaves: what an administrator (or the user) changes. Each takes effect at once on
# every replica (the database is read on every request) and is audited without secrets.
async def list_api_keys(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(
            api_keys.c.name,
            api_keys.c.active,
            api_keys.c.created_by,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        ).order_by(api_keys.c.name)
    )
    return [dict(r._mapping) for r in rows]
