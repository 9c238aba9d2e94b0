"""`aidflow worker` sent SIGTERM while it holds a webhook delivery: it hands the claim back and exits,
and another worker sends it at once, not after the lease (30 s here). Its --metrics-port serves the
worker's own counters. Real processes on PostgreSQL, a real receiver."""

import signal
import time

import httpx

from tests.conftest import ADMIN_PASSWORD
from tests.helpers import Api
from tests.live import free_port
from tests.receiver import Receiver
from tests.test_replicas import Fleet, _count_if, _true, _until, fleet  # noqa: F401 (fixture)
from tests.test_webhooks import subscribe

LEASE_SECONDS = 30


async def test_sigterm_releases_the_delivery_held(fleet: Fleet, pg_database_url):
    fleet.env["AIDFLOW_WEBHOOK_TIMEOUT_SECONDS"] = str(LEASE_SECONDS)  # the lease: timeout + margin (0)
    (base,) = fleet.serve("api0")
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        api = Api(client, pg_database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        metrics_port = free_port()
        worker = fleet.start("worker0", "worker", "--metrics-port", str(metrics_port))
        with Receiver() as receiver:
            receiver.plan("/slow", "hang")
            async with httpx.AsyncClient(base_url=base, headers={"Host": "aidflow.internal"}) as proxied:
                portal = Api(proxied, pg_database_url)
                portal.headers = api.headers
                await subscribe(
                    portal, "portal", receiver.url("/slow"), event_types=["application.submitted"]
                )
            await api.apply()
            await _until(lambda: _true(len(receiver.received("/slow")) == 1), 60, "the first send")
            assert await api.count("webhook_deliveries", "status = 'sending'") == 1
            scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            assert scraped.status_code == 200 and "aidflow_webhook_attempts_total" in scraped.text

            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=15) == 0
            assert await api.count("webhook_deliveries", "status = 'pending' AND lease_until IS NULL") == 1
            receiver.release()
            released_at = time.monotonic()
            fleet.start("worker1", "worker")
            await _until(
                lambda: _count_if(api, "webhook_deliveries", "status = 'delivered'", 1),
                LEASE_SECONDS - 10,
                "the released delivery sent by another worker before the lease would have ended",
            )
            assert time.monotonic() - released_at < LEASE_SECONDS
            assert len({r["headers"]["webhook-id"] for r in receiver.received("/slow")}) == 1
