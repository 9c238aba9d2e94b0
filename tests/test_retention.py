"""Retention: `aidflow prune` deletes working rows past their time and never the record.

Rows are written straight into the tables with chosen ages (what the service would have written
months ago), then the real prune runs on the real database, in-process and as the CLI."""

import os
import re
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app import clock
from app.db.engine import create_engine
from app.db.models import (
    early_messages,
    events,
    form_drafts,
    idempotency_keys,
    outbox,
    rate_limit_hits,
    web_sessions,
    webhook_deliveries,
    webhook_subscriptions,
)
from app.domain.retention import TABLES, Retention, prune
from tests.helpers import Api
from tests.time_travel import command

OLD = timedelta(days=400)
POLICY = Retention(
    outbox_days=30,
    webhook_deliveries_days=30,
    web_sessions_grace_seconds=0,
    idempotency_days=30,
    rate_limit_seconds=86400,
    early_messages_days=90,
    batch_size=2,
    ui_idle_seconds=7200,
)


async def _seed(url: str) -> datetime:
    """One row of every kind on each side of its retention; answers the 'now' they were aged against."""
    now = clock.now()
    old, young = now - OLD, now - timedelta(days=1)
    db = create_engine(url)
    try:
        async with db.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO divisions (code, name, level, parent_code, path) "
                    "VALUES ('99', '测试省', 'province', NULL, '/99/')"
                )
            )
            await conn.execute(
                sa.insert(webhook_subscriptions).values(
                    id="sub-1",
                    url="https://portal.example/hook",
                    event_types=[],
                    division_code="99",
                    division_path="/99/",
                    secret="whsec_x",
                    active=True,
                    created_by="admin",
                    created_by_kind="user",
                    created_at=old,
                    updated_at=old,
                )
            )

            def out(oid: int, created, delivered):
                return {
                    "id": oid,
                    "event_type": "application.created",
                    "application_id": None,
                    "division_path": "/99/",
                    "payload": {"n": oid},
                    "created_at": created,
                    "delivered_at": delivered,
                }

            await conn.execute(
                sa.insert(outbox),
                [
                    out(1, old, old),  # handed over long ago, its delivery delivered long ago: both go
                    out(2, old, old),  # its delivery still pending (a worker needs the payload): stays
                    out(3, old, old),  # its delivery being sent right now: stays
                    out(4, old, old),  # handed over to no subscription, long ago: goes
                    out(5, young, young),  # handed over yesterday: stays
                    out(6, old, None),  # not yet handed over (the fan-out needs it): stays
                    out(7, old, old),  # its delivery dead long ago: both go
                    out(8, old, old),  # its delivery delivered yesterday: both stay
                    out(9, old, old),
                    out(10, old, old),
                    out(11, old, old),  # no delivery: go (batches of 2)
                ],
            )

            def delivery(did: str, oid: int, status: str, last):
                return {
                    "id": did,
                    "subscription_id": "sub-1",
                    "outbox_id": oid,
                    "application_id": None,
                    "event_type": "application.created",
                    "status": status,
                    "attempts": 1,
                    "next_attempt_at": old,
                    "lease_until": now + timedelta(minutes=1) if status == "sending" else None,
                    "expires_at": old + timedelta(days=3),
                    "created_at": old,
                    "last_attempt_at": last,
                    "delivered_at": last if status == "delivered" else None,
                }

            await conn.execute(
                sa.insert(webhook_deliveries),
                [
                    delivery("msg_delivered_old", 1, "delivered", old),
                    delivery("msg_pending", 2, "pending", old),
                    delivery("msg_sending", 3, "sending", old),
                    delivery("msg_dead_old", 7, "dead", old),
                    delivery("msg_delivered_young", 8, "delivered", young),
                ],
            )

            real = clock.real_now()
            await conn.execute(
                sa.insert(web_sessions),
                [
                    {
                        "id": "ended",
                        "username": "a",
                        "created_at": real - OLD,
                        "last_seen_at": real - OLD,
                        "expires_at": real - OLD + timedelta(hours=8),
                    },
                    {
                        "id": "idle",
                        "username": "a",
                        "created_at": real - timedelta(hours=3),
                        "last_seen_at": real - timedelta(hours=3),
                        "expires_at": real + timedelta(hours=5),
                    },
                    {
                        "id": "live",
                        "username": "a",
                        "created_at": real - timedelta(hours=1),
                        "last_seen_at": real - timedelta(minutes=5),
                        "expires_at": real + timedelta(hours=7),
                    },
                ],
            )
            await conn.execute(
                sa.insert(idempotency_keys),
                [
                    {
                        "principal": "portal",
                        "key": "old",
                        "request_sha256": "0" * 64,
                        "status_code": 201,
                        "response": {},
                        "created_at": old,
                    },
                    {
                        "principal": "portal",
                        "key": "young",
                        "request_sha256": "0" * 64,
                        "status_code": 201,
                        "response": {},
                        "created_at": young,
                    },
                ],
            )
            await conn.execute(
                sa.insert(form_drafts),
                [
                    {
                        "id": "expired",
                        "owner": "o",
                        "path": "/ui/",
                        "body": {},
                        "expires_at": real - timedelta(minutes=1),
                    },
                    {
                        "id": "shown",
                        "owner": "o",
                        "path": "/ui/",
                        "body": {},
                        "expires_at": real + timedelta(minutes=20),
                    },
                ],
            )
            real_ms = int(real.timestamp() * 1000)
            await conn.execute(
                sa.insert(rate_limit_hits),
                [
                    {
                        "scope": "objection",
                        "client": "10.0.0.1",
                        "at_ms": real_ms - 2 * 86400 * 1000,
                        "hits": 3,
                    },
                    {"scope": "objection", "client": "10.0.0.1", "at_ms": real_ms - 60_000, "hits": 1},
                ],
            )

            def early(eid: int, expires, delivered):
                return {
                    "id": eid,
                    "application_id": None,
                    "program": "dibao",
                    "external_ref": f"r{eid}",
                    "id_number": None,
                    "sender_paths": None,
                    "message_name": "materials_supplemented",
                    "payload": {},
                    "actor": "portal",
                    "received_at": old,
                    "expires_at": expires,
                    "delivered_at": delivered,
                }

            await conn.execute(
                sa.insert(early_messages),
                [
                    early(1, now + timedelta(days=1), old),  # used long ago: goes
                    early(2, old, None),  # expired long ago, never used: goes
                    early(3, now + timedelta(days=5), None),  # still waiting for its case: stays
                    early(4, now - timedelta(days=10), None),
                ],
            )  # expired recently: stays a while
            # The audit trail: as old as anything here, and kept.
            await conn.execute(
                sa.insert(events).values(
                    application_id=None,
                    subject="user:a",
                    at=old - OLD,
                    actor="admin",
                    type="user.created",
                    data={},
                )
            )
    finally:
        await db.dispose()
    return now


async def _ids(url: str) -> dict[str, set]:
    db = create_engine(url)
    try:
        async with db.connect() as conn:

            async def col(statement) -> set:
                return set((await conn.execute(statement)).scalars())

            return {
                "outbox": await col(sa.select(outbox.c.id)),
                "webhook_deliveries": await col(sa.select(webhook_deliveries.c.id)),
                "web_sessions": await col(sa.select(web_sessions.c.id)),
                "form_drafts": await col(sa.select(form_drafts.c.id)),
                "idempotency_keys": await col(sa.select(idempotency_keys.c.key)),
                "rate_limit_hits": {r.hits for r in (await conn.execute(sa.select(rate_limit_hits))).all()},
                "early_messages": await col(sa.select(early_messages.c.id)),
                "events": await col(sa.select(events.c.type)),
            }
    finally:
        await db.dispose()


async def test_prune_deletes_rows_past_retention_and_keeps_younger_ones_and_what_workers_need(database_url):
    now = await _seed(database_url)
    db = create_engine(database_url)
    try:
        counts = await prune(db, POLICY, now=now)
    finally:
        await db.dispose()
    assert counts == {
        "webhook_deliveries": 2,
        "outbox": 6,
        "web_sessions": 2,
        "form_drafts": 1,
        "idempotency_keys": 1,
        "rate_limit_hits": 1,
        "early_messages": 2,
    }
    assert list(counts) == list(TABLES)
    left = await _ids(database_url)
    assert left["outbox"] == {2, 3, 5, 6, 8}
    assert left["webhook_deliveries"] == {"msg_pending", "msg_sending", "msg_delivered_young"}
    assert left["web_sessions"] == {"live"}
    assert left["form_drafts"] == {"shown"}
    assert left["idempotency_keys"] == {"young"}
    assert left["rate_limit_hits"] == {1}
    assert left["early_messages"] == {3, 4}
    assert left["events"] == {"user.created"}


async def test_dry_run_counts_the_same_rows_and_deletes_nothing(database_url):
    now = await _seed(database_url)
    before = await _ids(database_url)
    db = create_engine(database_url)
    try:
        counts = await prune(db, POLICY, now=now, dry_run=True)
    finally:
        await db.dispose()
    assert counts == {
        "webhook_deliveries": 2,
        "outbox": 4,
        "web_sessions": 2,
        "form_drafts": 1,
        "idempotency_keys": 1,
        "rate_limit_hits": 1,
        "early_messages": 2,
    }
    # (outbox 1 and 7 become deletable only once their deliveries are gone: a dry run counts 4 of the 6.)
    assert await _ids(database_url) == before


async def test_the_record_of_a_case_stays_however_old(api: Api):
    """A case in its notice, pruned as if ten years had passed: its history, tasks, timer, notice stay."""
    case = await api.apply()
    await api.to_notice(case["id"])
    kept = [
        "events",
        "applications",
        "tasks",
        "timers",
        "notices",
        "notice_entries",
        "message_waits",
        "divisions",
        "users",
        "grants",
        "process_definitions",
        "definition_files",
    ]
    before = {table: await api.count(table) for table in kept}
    assert before["events"] > 0 and before["notices"] == 1 and before["timers"] == 1
    undelivered = await api.count("outbox", "delivered_at IS NULL")
    assert undelivered > 0  # the setup and the case queued events: something pruning must keep
    ten_years = datetime.now(UTC) + timedelta(days=3650)
    db = create_engine(api.database_url)
    try:
        await prune(db, Retention(), now=ten_years, real_now=ten_years)
    finally:
        await db.dispose()
    assert {table: await api.count(table) for table in kept} == before
    assert await api.count("outbox", "delivered_at IS NULL") == undelivered
    timers = await api.run_timers()
    assert timers == 0  # the notice still runs: its timer is there, not yet due


def _aidflow(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": url,
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_ENV": "development",
        "AIDFLOW_PRUNE_BATCH_SIZE": "2",
        # prune also sweeps the materials store: an empty one of its own, never the project's
        "AIDFLOW_STORAGE_DIRECTORY": tempfile.mkdtemp(prefix="aidflow-prune-"),
    }
    return subprocess.run(command("aidflow", *args), env=env, capture_output=True, text=True, timeout=120)


async def test_the_cli_prints_per_table_counts_and_exits_zero(database_url):
    await _seed(database_url)
    before = await _ids(database_url)
    dry = _aidflow(database_url, "prune", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "webhook_deliveries: would delete 2",
        "outbox: would delete 4",
        "web_sessions: would delete 2",
        "form_drafts: would delete 1",
        "idempotency_keys: would delete 1",
        "rate_limit_hits: would delete 1",
        "early_messages: would delete 2",
        "attachments (retention): would delete 0",
        "stored objects without a row: would delete 0",
        "unfinished writes (.incoming-*): would delete 0",
        "total: would delete 13",
    ]
    assert await _ids(database_url) == before
    done = _aidflow(database_url, "prune")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    if database_url.startswith("postgresql"):  # the migration made this month's and the next three already
        assert lines.pop(0).startswith("events partitions created: "), lines
    assert lines == [
        "webhook_deliveries: deleted 2",
        "outbox: deleted 6",
        "web_sessions: deleted 2",
        "form_drafts: deleted 1",
        "idempotency_keys: deleted 1",
        "rate_limit_hits: deleted 1",
        "early_messages: deleted 2",
        "attachments (retention): deleted 0",
        "stored objects without a row: deleted 0",
        "unfinished writes (.incoming-*): deleted 0",
        "total: deleted 15",
    ]
    assert (await _ids(database_url))["outbox"] == {2, 3, 5, 6, 8}
    again = _aidflow(database_url, "prune")
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == "total: deleted 0"


async def test_the_cli_refuses_a_retention_below_its_floor(database_url):
    env_url = database_url
    result = subprocess.run(
        command("aidflow", "prune"),
        capture_output=True,
        text=True,
        env={**os.environ, "AIDFLOW_DATABASE_URL": env_url, "AIDFLOW_RETENTION_OUTBOX_DAYS": "0"},
        timeout=120,
    )
    assert result.returncode != 0
    assert "retention_outbox_days" in result.stderr


async def test_a_dead_delivery_redelivered_while_prune_waits_for_it_stays(pg_database_url):
    """PostgreSQL, the service running: an administrator's redeliver holds the dead delivery's row
    when prune reaches it; prune waits, sees it pending again, and leaves it (and its outbox row)."""
    import asyncio

    from tests.conftest import _empty_postgres

    await _empty_postgres(pg_database_url)
    now = await _seed(pg_database_url)
    db = create_engine(pg_database_url)
    try:
        async with db.connect() as redeliver:
            await redeliver.begin()
            holder = (await redeliver.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
            await redeliver.execute(
                sa.update(webhook_deliveries)
                .where(webhook_deliveries.c.id == "msg_dead_old")
                .values(status="pending", next_attempt_at=now)
            )
            pruning = asyncio.create_task(prune(db, POLICY, now=now))
            async with db.connect() as watch:
                deadline = time.monotonic() + 120  # until prune waits for the row lock (busy machine)
                while time.monotonic() < deadline:
                    waiting = (
                        await watch.execute(
                            sa.text(
                                "SELECT count(*) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))"
                            ),
                            {"holder": holder},
                        )
                    ).scalar_one()
                    if waiting or pruning.done():
                        break
                    # pg_stat_activity is read once per transaction: end it to see the next moment.
                    await watch.rollback()
                    await asyncio.sleep(0.1)
                assert not pruning.done(), pruning.result()  # it did not wait: say what it did
                others = (
                    await watch.execute(
                        sa.text(
                            "SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    )
                ).all()
                everywhere = (
                    await watch.execute(
                        sa.text("SELECT count(*), current_setting('max_connections') FROM pg_stat_activity")
                    )
                ).one()
                assert waiting == 1, (
                    f"prune never waited for the held row; sessions here: {others}; "
                    f"connections on the server: {tuple(everywhere)}; prune: {pruning!r}"
                )
            await redeliver.commit()
        counts = await pruning
    finally:
        await db.dispose()
    assert counts["webhook_deliveries"] == 1
    left = await _ids(pg_database_url)
    assert left["webhook_deliveries"] == {"msg_dead_old", "msg_pending", "msg_sending", "msg_delivered_young"}
    assert 7 in left["outbox"] and 1 not in left["outbox"]


async def test_what_prune_looks_up_per_row_is_reached_through_an_index(pg_database_url):
    """Deleting an outbox row makes PostgreSQL look for deliveries of it (the foreign key) and prune's
    own NOT EXISTS does the same; idempotency keys are found by age. Each must be an index lookup, or
    every deleted row reads the whole table (a plan, not a timing: with sequential scans off a lookup
    without a usable index shows no Index Cond)."""
    db = create_engine(pg_database_url)
    try:
        async with db.begin() as conn:
            await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            for table, column, query in [
                ("webhook_deliveries", "outbox_id", "SELECT 1 FROM webhook_deliveries WHERE outbox_id = 1"),
                ("idempotency_keys", "created_at", "SELECT 1 FROM idempotency_keys WHERE created_at < now()"),
            ]:
                plan = "\n".join((await conn.execute(sa.text("EXPLAIN " + query))).scalars())
                used = re.search(
                    r"(?:Index (?:Only )?Scan using (\w+) on " + table + r"|Bitmap Index Scan on (\w+))", plan
                )
                assert used, plan
                # Walking an index whose first column is another one reads all of it: the column must lead.
                first = (
                    await conn.execute(
                        sa.text(
                            "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                            "WHERE c.relname = :name"
                        ),
                        {"name": used.group(1) or used.group(2)},
                    )
                ).scalar_one()
                assert first == column, plan
    finally:
        await db.dispose()
