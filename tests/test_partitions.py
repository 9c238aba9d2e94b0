"""events partitioned by month on PostgreSQL: rows land in their month, the DEFAULT partition takes
the rest, partitions made ahead take their month's rows out of the default, and the migration keeps
every event (upgrade and downgrade)."""

import uuid
from datetime import UTC, datetime

import asyncpg
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

from app.db import partitions
from app.db.engine import create_engine
from app.db.migrate import alembic_config
from app.db.models import events
from app.domain.retention import prepare_partitions
from tests.conftest import _empty_postgres


def _event(at: datetime, actor: str = "admin") -> dict:
    return {
        "application_id": None,
        "subject": "user:a",
        "at": at,
        "actor": actor,
        "type": "user.created",
        "data": {},
    }


async def _where(conn, actor: str) -> list[tuple[str, int]]:
    rows = await conn.execute(
        sa.text("SELECT tableoid::regclass::text, id FROM events WHERE actor = :a ORDER BY id"), {"a": actor}
    )
    return [tuple(r) for r in rows]


async def test_events_land_in_their_month_and_later_partitions_take_theirs_from_the_default(pg_database_url):
    await _empty_postgres(pg_database_url)
    db = create_engine(pg_database_url)
    now = datetime.now(UTC)
    far = datetime(2090, 5, 17, 8, 0, tzinfo=UTC)  # where a moved test clock may stand
    try:
        async with db.begin() as conn:
            await conn.execute(sa.insert(events), [_event(now, "a"), _event(far, "b"), _event(far, "b")])
            here = await _where(conn, "a")
            there = await _where(conn, "b")
        assert [t for t, _ in here] == [partitions.month_name(now.year, now.month)]
        assert [t for t, _ in there] == ["events_default", "events_default"]

        created = await prepare_partitions(db, now=far, ahead=1)
        assert created == ["events_y2090m05", "events_y2090m06"]
        assert await prepare_partitions(db, now=far, ahead=1) == []  # made once
        async with db.begin() as conn:
            assert await _where(conn, "b") == [("events_y2090m05", i) for _, i in there]  # moved, same ids
            assert await _where(conn, "a") == here
            # A new event gets the next id of the one sequence, whichever partition it lands in.
            new_id = (
                await conn.execute(sa.insert(events).values(**_event(far, "c")).returning(events.c.id))
            ).scalar_one()
            assert new_id > max(i for _, i in there)
            assert (await _where(conn, "c"))[0][0] == "events_y2090m05"
            assert (await conn.execute(sa.text("SELECT count(*) FROM events_default"))).scalar_one() == 0
    finally:
        await db.dispose()


async def test_the_migration_keeps_every_event_up_and_down(pg_database_url):
    server = make_url(pg_database_url).set(drivername="postgresql")
    name = f"aidflow_partition_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    db = create_engine(server.set(database=name).render_as_string(hide_password=False))
    stamps = [
        datetime(2024, 2, 29, 23, 59, tzinfo=UTC),
        datetime.now(UTC),
        datetime(2099, 12, 31, tzinfo=UTC),
    ]

    def migrate(to: str):
        def run(sync_conn):
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            (command.upgrade if to == "head" else command.downgrade)(cfg, to)

        return run

    async def rows(conn):
        return (await conn.execute(sa.select(events.c.id, events.c.at).order_by(events.c.id))).all()

    try:
        async with db.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(_cfg(c), "0012_timer_retries"))
            await conn.execute(sa.insert(events), [_event(at) for at in stamps])
            before = await rows(conn)
        async with db.begin() as conn:
            await conn.run_sync(migrate("head"))
        await db.dispose()  # id changed type: statements prepared before are stale (new connections)
        async with db.begin() as conn:
            assert await rows(conn) == before
            kind = (
                await conn.execute(sa.text("SELECT relkind::text FROM pg_class WHERE relname = 'events'"))
            ).scalar_one()
            assert kind == "p"  # partitioned
            assert (await conn.execute(sa.text("SELECT count(*) FROM events_default"))).scalar_one() == 2
            next_id = (
                await conn.execute(sa.insert(events).values(**_event(stamps[1])).returning(events.c.id))
            ).scalar_one()
            assert next_id == before[-1][0] + 1
        async with db.begin() as conn:
            await conn.run_sync(migrate("0012_timer_retries"))
        await db.dispose()
        async with db.begin() as conn:
            assert (await rows(conn))[:3] == before and len(await rows(conn)) == 4
            kind = (
                await conn.execute(sa.text("SELECT relkind::text FROM pg_class WHERE relname = 'events'"))
            ).scalar_one()
            assert kind == "r"
    finally:
        await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _cfg(sync_conn):
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    return cfg


async def test_sqlite_has_no_partitions(sqlite_template):
    db = create_engine(f"sqlite+aiosqlite:///{sqlite_template}")
    try:
        assert await prepare_partitions(db) is None
    finally:
        await db.dispose()


async def test_a_month_made_while_an_event_of_it_is_being_written_to_the_default_keeps_it(pg_database_url):
    """No partition for a month yet (prune has not run): its events go to the default partition. When
    prune makes the month while one such event is uncommitted, it waits for it and takes it along."""
    import asyncio

    await _empty_postgres(pg_database_url)
    db = create_engine(pg_database_url)
    at = datetime(2091, 3, 3, tzinfo=UTC)
    try:
        async with db.begin() as conn:
            await conn.execute(sa.insert(events).values(**_event(at, "before")))
        async with db.connect() as writer:
            await writer.begin()
            holder = (await writer.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
            await writer.execute(sa.insert(events).values(**_event(at, "during")))
            making = asyncio.create_task(prepare_partitions(db, now=at, ahead=0))
            async with db.connect() as watch:
                for _ in range(600):
                    waiting = (
                        await watch.execute(
                            sa.text(
                                "SELECT count(*) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))"
                            ),
                            {"holder": holder},
                        )
                    ).scalar_one()
                    if waiting or making.done():
                        break
                    # pg_stat_activity is read once per transaction: end it to see the next moment.
                    await watch.rollback()
                    await asyncio.sleep(0.1)
            assert waiting == 1, "the partition maker never waited for the writer"
            assert not making.done(), making.result()
            await writer.commit()
        assert await making == ["events_y2091m03"]
        async with db.connect() as conn:
            assert [t for t, _ in await _where(conn, "before")] == ["events_y2091m03"]
            assert [t for t, _ in await _where(conn, "during")] == ["events_y2091m03"]
    finally:
        await db.dispose()


async def test_two_processes_making_the_same_months_at_once_make_each_once(pg_database_url):
    import asyncio

    await _empty_postgres(pg_database_url)
    engines = [create_engine(pg_database_url) for _ in range(2)]
    at = datetime(2092, 7, 1, tzinfo=UTC)
    try:
        made = await asyncio.gather(*(prepare_partitions(db, now=at, ahead=2) for db in engines))
    finally:
        for db in engines:
            await db.dispose()
    assert sorted(made, key=len) == [[], ["events_y2092m07", "events_y2092m08", "events_y2092m09"]]
