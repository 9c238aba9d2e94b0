"""Backup and restore, as docs/backup.md tells an operator to do it (PostgreSQL).

A 低保 case runs to its public notice; the database is dumped with `pg_dump -Fc` and the source is
dropped; `pg_restore` fills a new database; the service starts on it (the API in-process, a real
`aidflow worker` process); the test clock moves past the notice's end and the worker fires the
timer: the case reaches the county. Nothing is measured."""

import asyncio
import os
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.db.engine import create_engine
from app.db.migrate import upgrade_to_head
from app.db.models import metadata, timers
from tests.conftest import ADMIN_PASSWORD, RunningApp, _pg_server_url, make_settings
from tests.helpers import Api
from tests.time_travel import command

# The notice's end is read from the timer, but the case's first steps have working-day deadlines.
pytestmark = pytest.mark.dates

PG_BIN = Path(os.environ.get("AIDFLOW_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _libpq(url: str) -> list[str]:
    u = make_url(url)
    args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    return args


def _run(*command: str, env: dict | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, f"{command[0]} failed: {result.stderr}"


async def _counts(url: str) -> dict[str, int]:
    db = create_engine(url)
    try:
        async with db.connect() as conn:
            return {
                t.name: (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one()
                for t in metadata.sorted_tables
            }
    finally:
        await db.dispose()


async def test_a_restored_dump_serves_and_a_case_in_notice_reaches_the_county(tmp_path):
    server = make_url(_pg_server_url()).set(drivername="postgresql")
    admin = await asyncpg.connect(server.render_as_string(hide_password=False), timeout=10)
    source, target = (f"aidflow_backup_{uuid.uuid4().hex[:10]}" for _ in range(2))
    source_url = server.set(database=source).render_as_string(hide_password=False)
    target_url = server.set(database=target).render_as_string(hide_password=False)
    password_env = {**os.environ, **({"PGPASSWORD": server.password} if server.password else {})}
    worker = None
    try:
        await admin.execute(f'CREATE DATABASE "{source}"')
        await upgrade_to_head(source_url)
        async with RunningApp(source_url) as client:
            api = Api(client, source_url)
            await api.setup_places_and_people(ADMIN_PASSWORD)
            case = await api.apply()
            await api.to_notice(case["id"])
            assert (await api.application(case["id"]))["open_tasks"] == []
        before = await _counts(source_url)
        assert before["notices"] == 1 and before["timers"] == 1

        dump = tmp_path / "aidflow.dump"
        _run(
            str(PG_BIN / "pg_dump"),
            *_libpq(source_url),
            "--format=custom",
            "--file",
            str(dump),
            source,
            env=password_env,
        )
        await admin.execute(f'DROP DATABASE "{source}" WITH (FORCE)')  # the restore must stand alone
        await admin.execute(f'CREATE DATABASE "{target}"')
        _run(
            str(PG_BIN / "pg_restore"),
            *_libpq(target_url),
            "--exit-on-error",
            "--no-owner",
            "--dbname",
            target,
            str(dump),
            env=password_env,
        )
        assert await _counts(target_url) == before

        db = create_engine(target_url)
        try:
            async with db.connect() as conn:
                due_at = (
                    await conn.execute(sa.select(timers.c.due_at).where(timers.c.fired_at.is_(None)))
                ).scalar_one()
        finally:
            await db.dispose()

        settings = make_settings(target_url)
        worker = subprocess.Popen(
            command("aidflow", "worker"),  # shifted like this process under AIDFLOW_TEST_TODAY
            env={
                **password_env,
                "AIDFLOW_DATABASE_URL": target_url,
                "AIDFLOW_ENV": "test",
                "AIDFLOW_SECRET_KEY": settings.secret_key,
                "AIDFLOW_WORKER_POLL_SECONDS": "0.2",
                "AIDFLOW_LOG_JSON": "false",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        async with RunningApp(
            target_url
        ) as client:  # starts on the restored database: schema at head, same secret
            api = Api(client, target_url)
            await api.login("admin", ADMIN_PASSWORD)
            await api.login("county")
            restored = await api.application(case["id"])
            assert restored["status"] == "in_progress" and restored["open_tasks"] == []
            await api.set_clock((due_at + timedelta(seconds=1)).isoformat())
            for _ in range(300):  # the worker polls every 0.2 s; give it up to a minute on a busy machine
                if (await api.application(case["id"]))["open_tasks"]:
                    break
                assert worker.poll() is None, worker.stderr.read()
                await asyncio.sleep(0.2)
            confirm = await api.open_task(case["id"], "county_confirm")
            assert confirm["division_code"] == "340621"
            result = await api.complete(
                "county",
                confirm["id"],
                {"decision": "approve", "opinion": "同意纳入", "monthly_amount": 580, "dibao_class": "B"},
            )
            assert result["application"]["status"] == "approved"
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        for name in (source, target):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_an_sqlite_backup_taken_while_serving_restores_and_the_case_goes_on(tmp_path, sqlite_template):
    """SQLite: `sqlite3 aidflow.db ".backup 'copy.db'"` while the service runs (WAL mode: copying
    the file alone could miss what is still in the -wal file); the copy serves the case on."""
    import shutil

    sqlite3 = shutil.which("sqlite3")
    if sqlite3 is None:
        pytest.skip("the sqlite3 command-line shell is not installed")
    live, copy = tmp_path / "aidflow.db", tmp_path / "aidflow-backup.db"
    shutil.copy(sqlite_template, live)
    live_url, copy_url = f"sqlite+aiosqlite:///{live}", f"sqlite+aiosqlite:///{copy}"
    async with RunningApp(live_url) as client:
        api = Api(client, live_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        case = await api.apply()
        await api.to_notice(case["id"])
        assert Path(f"{live}-wal").exists()  # the service is running: recent writes sit in the WAL
        _run(sqlite3, str(live), f".backup '{copy}'")
        before = await _counts(live_url)
    assert await _counts(copy_url) == before
    db = create_engine(copy_url)
    try:
        async with db.connect() as conn:
            due_at = (
                await conn.execute(sa.select(timers.c.due_at).where(timers.c.fired_at.is_(None)))
            ).scalar_one()
    finally:
        await db.dispose()
    async with RunningApp(copy_url) as client:
        api = Api(client, copy_url)
        await api.login("admin", ADMIN_PASSWORD)
        await api.set_clock((due_at + timedelta(seconds=1)).isoformat())
        assert await api.run_timers() == 1
        await api.open_task(case["id"], "county_confirm")
