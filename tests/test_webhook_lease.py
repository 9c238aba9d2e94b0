"""A webhook delivery's lease: its margin has a floor, a send ends within its timeout whatever the
receiver or the name lookup does, and the lease is measured on the database's clock, which every
worker shares (not on the clock of the replica that claimed it)."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
import time_machine
from pydantic import ValidationError

from app.config import Settings
from app.db.engine import create_engine, transaction
from app.db.models import webhook_deliveries
from app.delivery import send
from app.domain.webhooks import deliveries
from app.domain.webhooks.deliveries import Policy
from tests.helpers import Api
from tests.receiver import Receiver
from tests.test_webhooks import subscribe


def test_the_lease_margin_has_a_floor():
    with pytest.raises(ValidationError):
        Settings(webhook_lease_margin_seconds=0)
    with pytest.raises(ValueError):
        Policy(lease_margin_seconds=0)
    assert Settings(webhook_lease_margin_seconds=5).webhook_lease_margin_seconds == 5


async def test_a_send_ends_within_its_timeout_when_the_receiver_trickles_its_answer():
    """httpx's timeout bounds each read: an answer arriving a byte every 0.3 s never trips a 1 s one."""
    answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 30 + b"\r\ncontent-length: 0\r\n\r\n"

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            for i in range(len(answer)):
                writer.write(answer[i : i + 1])
                await writer.drain()
                await asyncio.sleep(0.3)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    policy = Policy(timeout_seconds=1, test_mode=True)
    claimed = {
        "id": "msg_trickle",
        "url": f"http://127.0.0.1:{port}/hook",
        "payload": {"type": "webhook.ping"},
        "secrets": ["whsec_" + "x" * 32],
    }
    try:
        async with httpx.AsyncClient(timeout=policy.timeout_seconds) as client:
            started = time.monotonic()
            attempt, gone = await send(client, claimed, policy)
            took = time.monotonic() - started
    finally:
        server.close()
    assert not attempt.ok and not gone and attempt.error == "timed out after 1 s", attempt
    assert took < 3, f"the send took {took:.1f} s, its timeout is 1 s"


async def test_the_lease_runs_on_the_database_clock_not_the_claiming_replicas(api: Api):
    if not api.database_url.startswith("postgresql"):
        pytest.skip("SQLite runs in the service's own process: its clock is the process's")
    with Receiver() as receiver:
        await subscribe(api, "portal", receiver.url(), event_types=["application.submitted"])
        await api.apply()
        policy = Policy(timeout_seconds=10, lease_margin_seconds=5, test_mode=True)
        db = create_engine(api.database_url)
        try:
            async with transaction(db) as conn:
                await deliveries.fan_out(conn, policy)
            # This replica's clock runs two hours ahead of the database's (and of the other replicas').
            with time_machine.travel(datetime.now(UTC) + timedelta(hours=2), tick=True):
                async with transaction(db) as conn:
                    [claimed] = await deliveries.claim(conn, policy, 10)
            async with db.connect() as conn:
                lease_until, db_now = (
                    await conn.execute(
                        sa.select(webhook_deliveries.c.lease_until, sa.func.now()).where(
                            webhook_deliveries.c.id == claimed["id"]
                        )
                    )
                ).one()
        finally:
            await db.dispose()
    left = (lease_until - db_now).total_seconds()
    assert 0 < left <= 15, f"the lease runs out {left:.0f} s from the database's now, not within 15 s"
