"""The Alembic migrations build exactly the schema the models declare, on both dialects."""

import shutil

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db.engine import create_engine
from app.db.migrate import alembic_config
from app.db.models import metadata
from app.db.partitions import include_name


def _diff(sync_conn):
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True, "include_name": include_name})
    return compare_metadata(context, metadata)


async def _down_and_up_again(db, from_empty: bool = False) -> None:
    """Downgrade to base and upgrade to head in one transaction; the schema then matches the models."""

    def cycle(sync_conn):
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        if from_empty:
            command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")

    async with db.begin() as conn:
        await conn.run_sync(cycle)
    async with db.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_models_match_migrations_on_both_dialects(pg_database_url, sqlite_template):
    for url in (pg_database_url, f"sqlite+aiosqlite:///{sqlite_template}"):
        db = create_engine(url)
        try:
            async with db.connect() as conn:
                assert await conn.run_sync(_diff) == [], url
        finally:
            await db.dispose()


async def test_downgrade_to_base_and_up_again(sqlite_template, tmp_path):
    path = tmp_path / "copy.db"
    shutil.copy(sqlite_template, path)
    db = create_engine(f"sqlite+aiosqlite:///{path}")

    try:
        await _down_and_up_again(db)
    finally:
        await db.dispose()


async def test_downgrade_to_base_and_up_again_on_postgresql(pg_database_url):
    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(pg_database_url).set(drivername="postgresql")
    name = f"{server.database}_downgrade"
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    db = create_engine(server.set(database=name).render_as_string(hide_password=False))

    try:
        await _down_and_up_again(db, from_empty=True)
    finally:
        await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
