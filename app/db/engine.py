"""The database engine for both dialects, and the one way to open a transaction.

Services receive an open ``AsyncConnection`` and never commit; whoever opens the
transaction (an HTTP request, a worker tick, a CLI command) commits it or rolls it back.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg.exceptions
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def normalize_url(url: str) -> str:
    """Accept the URLs people write (postgresql://, sqlite:///) and pick the async drivers."""
    parsed = make_url(url)
    driver = {
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
    }
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    # Pre-ping: a connection the server ended (restart, failover, pg_terminate_backend) is replaced
    # at checkout instead of failing the request that drew it; one cheap round trip per checkout.
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_recycle=1800, pool_pre_ping=True)


def create_read_engine(url: str, writes: AsyncEngine) -> AsyncEngine:
    """A second pool for requests that only read (an inbox page), in autocommit: no BEGIN and COMMIT
    round trips, and its pre-ping is one round trip (``;``) instead of three (BEGIN, ``;``, ROLLBACK,
    which SQLAlchemy sends on a connection outside autocommit). SQLite: the one engine itself."""
    if writes.dialect.name == "sqlite":
        return writes
    return create_async_engine(
        normalize_url(url),
        isolation_level="AUTOCOMMIT",
        pool_size=5,
        max_overflow=10,
        pool_recycle=1800,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    # SQLite upgrades a read lock to a write lock lazily and then fails with "database is
    # locked" under concurrency; taking the write lock at BEGIN (IMMEDIATE) makes writers queue.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# What a server that is down, restarting, failing over or still a standby answers. A request that
# met one may succeed when retried a moment later (the pool reconnects, to whichever host of the
# URL accepts writes: target_session_attrs=read-write), so the caller is told 503, not 500.
UNAVAILABLE = (
    ConnectionError,  # refused, reset, aborted: the server or its host is gone
    TimeoutError,
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
    asyncpg.exceptions.AdminShutdownError,  # 57P01: terminated by an immediate shutdown
    asyncpg.exceptions.ConnectionDoesNotExistError,  # the connection closed mid-request
    asyncpg.exceptions.TargetServerAttributeNotMatched,  # every host reachable is a standby
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # 25006: a write reached a standby / read-only server
)


# The exception types a request handler may meet from the database (is_unavailable sorts them).
DATABASE_ERRORS = (DBAPIError, *UNAVAILABLE)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve now (as opposed to a fault in the request)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if exc.orig is not None:  # SQLAlchemy's adapter wraps asyncpg's own exception
            exc = exc.orig.__cause__ or exc.orig
    return isinstance(exc, UNAVAILABLE)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One unit of work: commits when the block ends normally, rolls back on any exception."""
    async with engine.begin() as conn:
        yield conn


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Reads on the engine of ``create_read_engine``: on PostgreSQL each statement sees its own
    snapshot (what a request reads in turn, e.g. the caller's grants and then a page, needs no common
    one); on SQLite a transaction as ``transaction``. Writing in here is a mistake: nothing rolls back."""
    if engine.dialect.name == "sqlite":
        async with transaction(engine) as conn:
            yield conn
        return
    async with engine.connect() as conn:
        yield conn
