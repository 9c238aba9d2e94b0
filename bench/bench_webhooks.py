"""Benchmark: webhook deliveries per second by two workers on PostgreSQL, none sent twice.

Writes BENCH_EVENTS outbox rows (spread over BENCH_CASES cases, so per-case ordering matters),
one subscription, a real uvicorn receiver on loopback (tests/receiver.py), then runs two
workers (two engines, as two processes would have) until everything is delivered.

Run: ``AIDFLOW_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_webhooks.py``
"""

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.receiver import Receiver

from app import clock
from app.db.engine import create_engine, transaction
from app.db.migrate import upgrade_to_head
from app.db.models import outbox, webhook_deliveries, webhook_subscriptions
from app.delivery import run_deliveries
from app.domain.webhooks import signatures
from app.domain.webhooks.deliveries import Policy, fan_out

EVENTS = int(os.environ.get("BENCH_EVENTS", "2000"))
CASES = int(os.environ.get("BENCH_CASES", "400"))


async def main() -> None:
    server = make_url(
        os.environ.get("AIDFLOW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    server = server.set(drivername="postgresql")
    name = f"aidflow_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_to_head(url)
        with Receiver() as receiver:
            await _run(url, receiver)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _run(url: str, receiver: Receiver) -> None:
    db = create_engine(url)
    now = clock.now()
    async with transaction(db) as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO divisions (code, name, level, parent_code, path) "
                "VALUES ('34', 'p', 'province', NULL, '/34/')"
            )
        )
        await conn.execute(
            sa.insert(webhook_subscriptions).values(
                id=str(uuid.uuid4()),
                url=receiver.url(),
                event_types=["task.created"],
                division_code="34",
                division_path="/34/",
                secret=signatures.generate_secret(),
                active=True,
                created_by="bench",
                created_at=now,
                updated_at=now,
            )
        )
        cases = [str(uuid.uuid4()) for _ in range(CASES)]
        await conn.execute(
            sa.insert(outbox),
            [
                {
                    "event_type": "task.created",
                    "application_id": None,
                    "division_path": "/34/",
                    "created_at": now,
                    "payload": {
                        "id": str(uuid.uuid4()),
                        "type": "task.created",
                        "time": now.isoformat(),
                        "application_id": cases[i % CASES],
                        "task": None,
                        "data": {"n": i},
                    },
                }
                for i in range(EVENTS)
            ],
        )
    # The outbox rows name no application (the bench has no cases table rows); the deliveries get
    # their case from the payload below, so ordering per case is exercised as in production.
    policy = Policy(test_mode=True, batch_size=50)
    engines = [create_engine(url), create_engine(url)]
    start = time.perf_counter()
    async with transaction(db) as conn:
        while (
            await conn.execute(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.delivered_at.is_(None))
            )
        ).scalar():
            await fan_out(conn, policy)
        await conn.execute(
            sa.text(
                "UPDATE webhook_deliveries d SET application_id = o.payload->>'application_id' FROM outbox o "
                "WHERE o.id = d.outbox_id"
            )
        )
    fanned = time.perf_counter()
    attempts = await asyncio.gather(*(run_deliveries(e, policy) for e in engines))
    elapsed = time.perf_counter() - fanned
    async with db.connect() as conn:
        delivered = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(webhook_deliveries)
                .where(webhook_deliveries.c.status == "delivered")
            )
        ).scalar()
    ids = [r["headers"]["webhook-id"] for r in receiver.received()]
    print(f"events {EVENTS} over {CASES} cases; fan-out {EVENTS / (fanned - start):.0f} events/s")
    print(
        f"two workers: {delivered} delivered in {elapsed:.2f} s = {delivered / elapsed:.0f} deliveries/s "
        f"(attempts per worker {attempts}); requests received {len(ids)}, duplicates {len(ids) - len(set(ids))}"
    )
    for e in [*engines, db]:
        await e.dispose()


if __name__ == "__main__":
    asyncio.run(main())
