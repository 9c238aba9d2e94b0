"""Users, API keys, grants, passwords and tokens."""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection
from zxcvbn import zxcvbn

from app import clock
from app.db.models import api_keys, divisions, grants, users, web_sessions
from app.db.types import UTCDateTime
from app.domain import audit
from app.domain.errors import Conflict, DomainError, Invalid, NotFound, Unauthorized
from app.domain.people import divisions as division_service
from app.domain.people.principal import ADMIN, GrantScope, Principal
from app.domain.programs import definitions

_hasher = PasswordHasher()


def hash_cheaply_for_tests() -> None:
    """AIDFLOW_ENV=test only: argon2's cheapest parameters, so a suite that creates hundreds of users
    spends its time on what it tests. A hash carries its parameters; verifying is unchanged."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)


# Verifying against this keeps unknown usernames as slow as wrong passwords (no user enumeration).
_DUMMY_HASH = _hasher.hash("aidflow-dummy-password")
JWT_ALGORITHM = "HS256"


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


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def _check_grants(conn: AsyncConnection, items: list[GrantIn]) -> None:
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
            known = {division_service.role_department(r) for r in await definitions.role_keys(conn)} - {None}
        if division_service.role_department(g.role) not in known:
            raise Invalid(
                "unknown_role",
                f"no deployed process works with the department of role {g.role!r}; "
                "deploy the process first or check the spelling",
                role=g.role,
                departments=sorted(known),
            )


async def _insert_grants(conn: AsyncConnection, items: list[GrantIn], **owner: int) -> None:
    if items:
        await conn.execute(
            sa.insert(grants), [{"role": g.role, "division_code": g.division_code, **owner} for g in items]
        )


# Password rules (issue 15): long enough, not one repeated character, not the username, and what
# zxcvbn scores at least 3 ("safely unguessable") — it knows common passwords, words and patterns.
MIN_PASSWORD_LENGTH = 10
MIN_ZXCVBN_SCORE = 3


def check_password(password: str, username: str) -> None:
    """Refuse a weak password with ``weak_password`` and the rule it broke (``reason``)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        reason, detail = "too_short", f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    elif len(set(password)) == 1:
        reason, detail = "repeated_character", "a password cannot be one character repeated"
    elif password.casefold() == username.casefold():
        reason, detail = "same_as_username", "a password cannot be the username"
    elif zxcvbn(password[:100], user_inputs=[username])["score"] < MIN_ZXCVBN_SCORE:
        reason, detail = (
            "too_guessable",
            "the password is too easy to guess (a common password, word or pattern)",
        )
    else:
        return
    raise Invalid("weak_password", detail, reason=reason)


async def create_user(conn: AsyncConnection, body: UserIn, created_by: str) -> dict:
    check_password(body.password, body.username)
    await _check_grants(conn, body.grants)
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
                password_hash=_hasher.hash(body.password),
                active=True,
                created_at=clock.now(),
            )
            .returning(users.c.id)
        )
    ).scalar_one()
    await _insert_grants(conn, body.grants, user_id=user_id)
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


async def create_api_key(conn: AsyncConnection, body: ApiKeyIn, created_by: str) -> dict:
    await _check_grants(conn, body.grants)
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
                key_hash=hash_api_key(key),
                active=True,
                created_by=created_by,
                created_at=clock.now(),
            )
            .returning(api_keys.c.id)
        )
    ).scalar_one()
    await _insert_grants(conn, body.grants, api_key_id=key_id)
    await audit.record_change(
        conn,
        created_by,
        "api_key.created",
        f"api_key:{body.name}",
        None,
        {"grants": [g.model_dump() for g in body.grants]},
    )
    return {"id": key_id, "name": body.name, "key": key, "grants": [g.model_dump() for g in body.grants]}


# Lock-out: this many wrong passwords in a row lock the account for LOCK_MINUTES (real time).
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15


class AccountLocked(DomainError):
    status = 429


class LoginAttempt(BaseModel):
    password_hash: str
    active: bool


async def take_login_attempt(conn: AsyncConnection, username: str) -> LoginAttempt | None:
    """Count a login attempt BEFORE its password is checked, in one atomic statement, so that N
    concurrent guesses get no more checks than N sequential ones (the row lock, or SQLite's single
    writer, orders them; each sees the count of the one before). The MAX_FAILED_LOGINS-th attempt
    in a row sets the lock; a right password then lifts it again (``login_succeeded``).

    The caller commits this at once, verifies the password outside any transaction, then calls
    ``login_succeeded`` in a transaction of its own. None for an unknown username; a locked
    account raises ``account_locked`` without counting (attempts while locked do not extend it)."""
    now = clock.real_now()
    # An expired lock starts a new count.
    counted = sa.case((users.c.locked_until.is_(None), users.c.failed_logins + 1), else_=1)
    row = (
        await conn.execute(
            sa.update(users)
            .where(
                users.c.username == username,
                sa.or_(users.c.locked_until.is_(None), users.c.locked_until <= now),
            )
            .values(
                failed_logins=counted,
                locked_until=sa.case(
                    (
                        counted >= MAX_FAILED_LOGINS,
                        sa.literal(now + timedelta(minutes=LOCK_MINUTES), UTCDateTime()),
                    ),
                    else_=sa.null(),
                ),
            )
            .returning(users.c.password_hash, users.c.active)
        )
    ).first()
    if row is not None:
        return LoginAttempt(password_hash=row.password_hash, active=row.active)
    locked_until = (
        await conn.execute(sa.select(users.c.locked_until).where(users.c.username == username))
    ).scalar()
    _refuse_if_locked(locked_until)
    return None


def password_matches(attempt: LoginAttempt | None, password: str) -> bool:
    """Slow on purpose; unknown usernames are checked against a dummy hash (no user enumeration)."""
    try:
        _hasher.verify(attempt.password_hash if attempt else _DUMMY_HASH, password)
        return attempt is not None
    except (VerificationError, InvalidHashError):
        return False


async def login_succeeded(conn: AsyncConnection, username: str) -> None:
    """The right password: the count starts again and a lock its own attempt set is lifted."""
    await conn.execute(
        sa.update(users).where(users.c.username == username).values(failed_logins=0, locked_until=None)
    )


def _refuse_if_locked(locked_until: datetime | None) -> None:
    now = clock.real_now()
    if locked_until is not None and locked_until > now:
        retry = max(1, int((locked_until - now).total_seconds()) + 1)
        raise AccountLocked(
            "account_locked",
            f"too many failed logins; the account is locked for {retry} seconds",
            retry_after=retry,
        )


def issue_token(username: str, secret: str, ttl_seconds: int) -> dict:
    now = clock.real_now()
    # iat to the microsecond (a JWT NumericDate may have a fraction): revoking tokens at 12:00:00.5
    # must refuse one issued at 12:00:00.2 and accept one issued at 12:00:00.8 (a password change
    # revokes the old tokens, and the user logs in again within the same second).
    claims = {"sub": username, "iat": now.timestamp(), "exp": int(now.timestamp()) + ttl_seconds}
    return {
        "access_token": jwt.encode(claims, secret, algorithm=JWT_ALGORITHM),
        "token_type": "bearer",
        "expires_in": ttl_seconds,
    }


def claims_from_token(token: str, secret: str) -> tuple[str, datetime]:
    """The token's user and when it was issued (checked against the user's tokens_valid_after)."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["sub", "exp", "iat"]}
        )
        return claims["sub"], datetime.fromtimestamp(float(claims["iat"]), UTC)
    except (jwt.PyJWTError, TypeError, ValueError, OverflowError):
        raise Unauthorized("invalid_token", "the bearer token is invalid or expired") from None


def _with_grants(owner, owner_fk, *where):
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


def _scopes(rows) -> tuple[GrantScope, ...]:
    return tuple(GrantScope(r.role, r.division_code, r.path) for r in rows if r.role is not None)


async def principal_for_user(
    conn: AsyncConnection, username: str, issued_at: datetime | None = None
) -> Principal:
    """Read on every request (never cached): a disabled user or a revoked token stops at once on
    every replica. ``issued_at`` is a bearer token's iat; web sessions are deleted when revoked."""
    query = _with_grants(users, grants.c.user_id, users.c.username == username, users.c.active)
    rows = (await conn.execute(query.add_columns(users.c.tokens_valid_after))).all()
    if not rows:
        raise Unauthorized("invalid_token", "the account no longer exists or is disabled")
    valid_after = rows[0].tokens_valid_after
    if issued_at is not None and valid_after is not None and issued_at < valid_after:
        raise Unauthorized("invalid_token", "the bearer token was revoked; log in again")
    return Principal(username, "user", _scopes(rows))


async def principal_for_api_key(conn: AsyncConnection, key: str) -> Principal:
    query = _with_grants(
        api_keys, grants.c.api_key_id, api_keys.c.key_hash == hash_api_key(key), api_keys.c.active
    )
    rows = (await conn.execute(query.add_columns(api_keys.c.name))).all()
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


async def list_users(conn: AsyncConnection, limit: int = 500) -> list[dict]:
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
    found: dict[str, dict] = {}
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
class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=200)


class OwnPasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


async def _user_row(conn: AsyncConnection, username: str):
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


async def set_password(conn: AsyncConnection, username: str, password: str, actor: str) -> dict:
    """A new password (by the user, or by an admin for them); it revokes the user's tokens and
    sessions and lifts a lock-out. The audit names who did it, never the value or the hash."""
    await _user_row(conn, username)
    check_password(password, username)
    await conn.execute(
        sa.update(users)
        .where(users.c.username == username)
        .values(password_hash=_hasher.hash(password), failed_logins=0, locked_until=None)
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


async def set_active(conn: AsyncConnection, username: str, active: bool, actor: str) -> dict:
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
    grants: list[GrantIn] | None = Field(default=None, max_length=100)


def _grant_key(g: dict) -> tuple:
    return g["role"], g["division_code"] or ""


async def update_user(conn: AsyncConnection, username: str, body: UserChangeIn, actor: str) -> dict:
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
        await _check_grants(conn, body.grants)
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
            await _insert_grants(conn, [GrantIn(**g) for g in new_grants], user_id=row.id)
            await audit.record_change(
                conn,
                actor,
                "user.grants_changed",
                f"user:{username}",
                {"grants": old_grants},
                {"grants": new_grants},
            )
    return {"username": username, "display_name": name, "grants": new_grants}


async def revoke_tokens(conn: AsyncConnection, username: str, actor: str) -> dict:
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


async def revoke_api_key(conn: AsyncConnection, name: str, actor: str) -> dict:
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


async def list_api_keys(conn: AsyncConnection) -> list[dict]:
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
