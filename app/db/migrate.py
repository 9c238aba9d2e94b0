"""Alembic upgrade to head, callable from the CLI, the app and the tests."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import PROJECT_ROOT
from app.db.engine import create_engine

MIGRATE_LOCK = 0x41494447  # held by a migration for its whole transaction


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return cfg


@asynccontextmanager
async def migrating(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The one transaction a migration runs in.

    PostgreSQL: the migration lock (two `aidflow migrate` at once: the second waits, then finds head).
    SQLite: foreign keys off while it runs and checked before the commit. Alembic's batch mode
    changes a table by copying it, dropping the original and renaming the copy; with foreign keys
    on, dropping a table that other rows refer to (applications, with its tasks) fails, so a database
    in use could not be migrated. The pragma is a no-op inside a transaction: it is set before."""
    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            await conn.run_sync(_foreign_keys, False)
        try:
            async with conn.begin():
                if not sqlite:
                    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK})
                yield conn
                if sqlite:
                    broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(
                            f"the migration left references to rows that are gone: {broken[:5]}"
                        )
        finally:
            if sqlite:
                await conn.run_sync(_foreign_keys, True)


def _foreign_keys(sync_connection, on: bool) -> None:
    cursor = sync_connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


async def upgrade_to_head(url: str) -> None:
    engine = create_engine(url)
    try:
        async with migrating(engine) as conn:
            await conn.run_sync(_upgrade)
    finally:
        await engine.dispose()


def _upgrade(sync_connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_connection
    command.upgrade(cfg, "head")


def upgrade_to_head_sync(url: str) -> None:
    asyncio.run(upgrade_to_head(url))
