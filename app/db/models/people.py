"""Places, people and their credentials, browser sessions, rate-limit hits and the installation's own rows."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models.base import timestamp
from app.db.types import JSONType, PathType


class Division(SQLModel, table=True):
    __tablename__ = "divisions"
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    level: str = Field(max_length=32)
    parent_code: str | None = Field(default=None, foreign_key="divisions.code", max_length=32)
    # "/34/3406/340621/" – every ancestor's code; the prefix test answers "at or below".
    path: str = Field(sa_type=PathType, unique=True)
    # Where citizens complain about the work of this place and the places under it (监督电话):
    # printed on the notices below it (the nearest place that has one).
    complaint_phone: str | None = Field(default=None, max_length=40)


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)
    active: bool = True
    created_at: datetime = timestamp()
    # Lock-out: consecutive failed logins, and until when (real time) the account refuses logins.
    failed_logins: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    locked_until: datetime | None = timestamp(nullable=True)
    # Disabling sets active=False and this; bearer tokens issued (iat) before tokens_valid_after are
    # refused. Both are read from the database on every request, so every replica sees them at once.
    disabled_at: datetime | None = timestamp(nullable=True)
    tokens_valid_after: datetime | None = timestamp(nullable=True)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    # sha256 of the key: keys are 256-bit random, so a slow hash buys nothing.
    key_hash: str = Field(max_length=64, unique=True)
    active: bool = True
    created_by: str = Field(max_length=100)
    created_at: datetime = timestamp()
    revoked_at: datetime | None = timestamp(nullable=True)  # with active=False: the key stops working at once


class Grant(SQLModel, table=True):
    __tablename__ = "grants"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    api_key_id: int | None = Field(default=None, foreign_key="api_keys.id", index=True)
    role: str = Field(max_length=64)
    # NULL only for the global admin role.
    division_code: str | None = Field(default=None, foreign_key="divisions.code", max_length=32)


class WebSession(SQLModel, table=True):
    """A browser session of the web UI; the cookie holds a random token, the row only its hash."""

    __tablename__ = "web_sessions"
    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie's token
    username: str = Field(max_length=100, index=True)
    created_at: datetime = timestamp()
    last_seen_at: datetime = timestamp()
    expires_at: datetime = timestamp()


class FormDraft(SQLModel, table=True):
    """What a refused web form showed, kept for the GET page it redirects to (POST/redirect/GET):
    the entered values and the messages, for half an hour, readable only by the same browser."""

    __tablename__ = "form_drafts"
    id: str = Field(primary_key=True, max_length=64)  # sha256 of the token in the redirect's URL
    owner: str = Field(max_length=64)  # sha256 of the session (or anonymous) cookie that made it
    path: str = Field(max_length=300)  # the page it belongs to
    body: dict = Field(sa_type=JSONType)
    expires_at: datetime = timestamp(index=True)


class RateLimitHit(SQLModel, table=True):
    """Accepted hits per client and millisecond (database clock); every replica counts in the same rows."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (sa.Index("ix_rate_limit_hits_at_ms", "at_ms"),)
    scope: str = Field(primary_key=True, max_length=32)
    client: str = Field(primary_key=True, max_length=64)
    at_ms: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False})
    hits: int = Field(default=1)


class InstallationSecret(SQLModel, table=True):
    """Secrets an installation generated for itself (``signing``: tokens and CSRF when
    AIDFLOW_SECRET_KEY is unset), shared by every process of it; never a constant in code."""

    __tablename__ = "installation_secrets"
    name: str = Field(primary_key=True, max_length=50)
    value: str = Field(max_length=200)
    created_at: datetime = timestamp()


class ServiceClock(SQLModel, table=True):
    """The test-mode clock offset shared by every process (one row, id 1)."""

    __tablename__ = "service_clock"
    id: int = Field(primary_key=True)
    offset_seconds: float = 0.0
