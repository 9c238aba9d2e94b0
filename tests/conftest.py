"""Fixtures: every API test runs on real SQLite and real PostgreSQL, through real HTTP (ASGI).

PostgreSQL: ``AIDFLOW_TEST_DATABASE_URL`` names a server (any database on it); the session
creates its own database there, migrates it once, empties it between tests and drops it
at the end.  SQLite: one migrated file per session, copied for each test.
"""

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db.engine import create_engine
from app.db.migrate import upgrade_to_head
from app.db.models import metadata
from app.main import create_app
from tests.helpers import Api
from tests.s3_server import s3_bucket, s3_endpoint  # noqa: F401  (the S3-compatible server for materials)
from tests.time_travel import start_if_asked
from tests.web_support import browser, live_ui, live_ui_both  # noqa: F401  (browser-test fixtures)

# With AIDFLOW_TEST_TODAY set, the whole run stands on that day (see tests/time_travel.py).
TRAVELLED_TO = start_if_asked()


def pytest_report_header(config):
    if TRAVELLED_TO is not None:
        return f"wall clock moved to {TRAVELLED_TO.isoformat()} (AIDFLOW_TEST_TODAY)"


DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_PASSWORD = "admin-password-1"


def _pg_server_url() -> str:
    return os.environ.get("AIDFLOW_TEST_DATABASE_URL", DEFAULT_PG)


@pytest.fixture(scope="session")
async def pg_database_url():
    server = make_url(_pg_server_url()).set(drivername="postgresql")
    name = f"aidflow_test_{uuid.uuid4().hex[:12]}"
    dsn = server.render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {server.render_as_string()} ({exc}). Set AIDFLOW_TEST_DATABASE_URL "
            "or run `make test`, which starts or explains how to install PostgreSQL.",
            returncode=3,
        )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
        await upgrade_to_head(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    await upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


async def _empty_postgres(url: str) -> None:
    db = create_engine(url)
    try:
        async with db.begin() as conn:
            names = ", ".join(t.name for t in metadata.sorted_tables)
            await conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))
    finally:
        await db.dispose()


def _databases() -> list[str]:
    """Both by default; ``AIDFLOW_TEST_DATABASES=postgresql`` for a pass where the database does not
    matter (the dates pass of scripts/test.sh: neither server's own clock is moved by time travel)."""
    chosen = [d.strip() for d in os.environ.get("AIDFLOW_TEST_DATABASES", "sqlite,postgresql").split(",")]
    unknown = set(chosen) - {"sqlite", "postgresql"}
    if unknown or not chosen:
        raise pytest.UsageError(f"AIDFLOW_TEST_DATABASES: sqlite and/or postgresql, not {sorted(unknown)}")
    return chosen


@pytest.fixture(params=_databases())
async def database_url(request, tmp_path, sqlite_template, pg_database_url):
    if request.param == "sqlite":
        path = tmp_path / "aidflow.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    await _empty_postgres(pg_database_url)
    return pg_database_url


def make_settings(url: str, **overrides) -> Settings:
    return Settings(
        **{
            "env": "test",
            "database_url": url,
            "secret_key": "test-secret-" + "x" * 32,
            "bootstrap_admin_password": ADMIN_PASSWORD,
            "log_json": False,
            # Materials a test adds stay out of the project directory (tests that look at the store set their own).
            "storage_directory": Path(tempfile.gettempdir()) / f"aidflow-test-materials-{os.getpid()}",
            **overrides,
        }
    )


class RunningApp:
    """An app instance with its lifespan running; several may share one database (restarts)."""

    def __init__(self, url: str, **settings):
        self.app = create_app(make_settings(url, **settings))
        self._lifespan = self.app.router.lifespan_context(self.app)

    async def __aenter__(self) -> httpx.AsyncClient:
        await self._lifespan.__aenter__()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://aidflow.test"
        )
        return self.client

    async def __aexit__(self, *exc):
        await self.client.aclose()
        await self._lifespan.__aexit__(*exc)


@pytest.fixture
async def api(database_url):
    async with RunningApp(database_url) as client:
        api = Api(client, database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        yield api


@pytest.fixture
def running_app():
    return RunningApp
