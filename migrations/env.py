"""Alembic environment for both dialects (batch mode so SQLite can alter tables)."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import get_settings
from app.db.engine import create_engine
from app.db.models import metadata
from app.db.partitions import include_name

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,  # events' monthly partitions (PostgreSQL) are not model tables
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection: AsyncConnection | None = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("database_url") or get_settings().database_url
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `aidflow migrate`")
run_migrations_online()
