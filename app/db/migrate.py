"""Alembic upgrade to head, callable from the CLI, the app and the tests."""

import asyncio

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from app.config import PROJECT_ROOT
from app.db.engine import create_engine

MIGRATE_LOCK = 0x41494447  # held by a migration for its whole transaction


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return cfg


async def upgrade_to_head(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            if (
                conn.dialect.name == "postgresql"
            ):  # two `aidflow migrate` at once: the second waits, then finds head
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK})
            await conn.run_sync(_upgrade)
    finally:
        await engine.dispose()


def _upgrade(sync_connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_connection
    command.upgrade(cfg, "head")


def upgrade_to_head_sync(url: str) -> None:
    asyncio.run(upgrade_to_head(url))
