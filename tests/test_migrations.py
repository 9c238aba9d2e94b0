"""The Alembic migrations build exactly the schema the models declare, on both dialects; they go down to
base and up to head again, also in a database the service has used (app.db.migrate.migrating)."""

import shutil

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db.engine import create_engine
from app.db.migrate import alembic_config, migrating
from app.db.models import metadata
from app.db.partitions import include_name


def _diff(sync_conn):
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True, "include_name": include_name})
    return compare_metadata(context, metadata)


def _left_over(sync_conn) -> dict:
    """What a downgrade to base left in the database (only Alembic's own bookkeeping may remain)."""
    found = sa.inspect(sync_conn)
    left = {"tables": sorted(found.get_table_names()), "views": sorted(found.get_view_names())}
    if sync_conn.dialect.name == "postgresql":
        left["types"] = sorted(
            sync_conn.execute(
                sa.text(
                    "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                    "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') "
                    "AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)"
                )
            ).scalars()
        )
        left["sequences"] = sorted(found.get_sequence_names())
    else:
        left["types"], left["sequences"] = [], []
    return left


async def _down_and_up_again(db, from_empty: bool = False) -> None:
    """Downgrade to base and upgrade to head in one transaction; the schema then matches the models."""

    def cycle(sync_conn):
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        if from_empty:
            command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        left = _left_over(sync_conn)
        assert left == {"tables": ["alembic_version"], "views": [], "types": [], "sequences": []}, left
        command.upgrade(cfg, "head")

    async with migrating(db) as conn:
        await conn.run_sync(cycle)
    async with db.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def _migrate(db, direction: str, target: str) -> None:
    def run(sync_conn):
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        getattr(command, direction)(cfg, target)

    async with migrating(db) as conn:
        await conn.run_sync(run)


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


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_a_database_in_use_goes_down_and_up_again(dialect, tmp_path, pg_database_url, running_app):
    """Not only an empty schema: one the service ran a case in. Down to the first revision and up to
    head again runs every upgrade over existing rows (SQLite's batch mode copies tables that other
    rows refer to; 0018 numbers the cases it finds), then down to base and up again."""
    import asyncpg
    from sqlalchemy.engine import make_url

    from app.db.migrate import upgrade_to_head
    from tests.conftest import ADMIN_PASSWORD
    from tests.helpers import Api

    server = make_url(pg_database_url).set(drivername="postgresql")
    name = f"{server.database}_in_use"
    admin = None
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'in_use.db'}"
    else:
        admin = await asyncpg.connect(server.render_as_string(hide_password=False))
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
    db = create_engine(url)
    try:
        await upgrade_to_head(url)
        async with running_app(url) as client:
            api = Api(client, url)
            await api.setup_places_and_people(ADMIN_PASSWORD)
            case = await api.apply()
            await api.to_notice(case["id"])
        year = case["number"].split("-")[2]
        assert case["number"] == f"DB-340621-{year}-000001"
        await _migrate(db, "downgrade", "0001")
        await _migrate(db, "upgrade", "head")
        async with db.connect() as conn:
            assert await conn.run_sync(_diff) == []
        # The case is still there, numbered again by 0018 as it was, and its tasks carry the number.
        assert await api.count("applications", f"id = '{case['id']}' AND number = '{case['number']}'") == 1
        assert (
            await api.count("tasks", f"application_id = '{case['id']}' AND case_number = '{case['number']}'")
            == 2
        )
        await _down_and_up_again(db)
        assert await api.count("applications") == 0
    finally:
        await db.dispose()
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
