"""The installation's own signing secret: generated once when none is configured, kept in the
database so every process and replica signs and checks alike, and never a constant in code."""

import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app import clock
from app.db.engine import transaction
from app.db.models import installation_secrets

SIGNING = "signing"


async def _stored(db: AsyncEngine) -> str | None:
    async with transaction(db) as conn:
        return (
            await conn.execute(
                sa.select(installation_secrets.c.value).where(installation_secrets.c.name == SIGNING)
            )
        ).scalar()


async def signing_secret(db: AsyncEngine) -> str:
    if (value := await _stored(db)) is not None:
        return value
    try:
        async with transaction(db) as conn:
            await conn.execute(
                sa.insert(installation_secrets).values(
                    name=SIGNING, value=secrets.token_urlsafe(48), created_at=clock.real_now()
                )
            )
    except sa.exc.IntegrityError:
        pass  # another process of this installation stored one first: use that
    value = await _stored(db)
    assert value is not None
    return value
