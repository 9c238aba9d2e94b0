"""Credentials: password hashing and strength, the login lock-out, bearer tokens and API key hashes.

Users and keys themselves are ``people.accounts``.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection
from zxcvbn import zxcvbn

from app import clock
from app.db.models import users
from app.db.types import UTCDateTime
from app.domain.errors import DomainError, Invalid, Unauthorized

_hasher = PasswordHasher()


def hash_cheaply_for_tests() -> None:
    """AIDFLOW_ENV=test only: argon2's cheapest parameters, so a suite that creates hundreds of users
    spends its time on what it tests. A hash carries its parameters; verifying is unchanged."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)


# Verifying against this keeps unknown usernames as slow as wrong passwords (no user enumeration).
_DUMMY_HASH = _hasher.hash("aidflow-dummy-password")
JWT_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


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


def issue_token(username: str, secret: str, ttl_seconds: int) -> dict[str, Any]:
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
