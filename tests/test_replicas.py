"""Several replicas on one PostgreSQL database, as deployed: three `aidflow serve --no-worker` and two
`aidflow worker` processes, driven over real HTTP through different replicas. The figures are
printed (run with -s to see them); the assertions are about exactness, never speed."""

import asyncio
import os
import signal
import subprocess
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa

from app.db.engine import create_engine
from tests.conftest import ADMIN_PASSWORD, _empty_postgres
from tests.helpers import VILLAGE_A, Api, check_character
from tests.live import free_port, wait_until_up
from tests.receiver import Receiver
from tests.test_webhooks import subscribe
from tests.time_travel import command

pytestmark = pytest.mark.dates
TIMERS = 80
SECRET = "replica-test-secret-" + "x" * 32


class Fleet:
    """The processes of one deployment; every one is stopped when the test ends."""

    def __init__(self, database_url: str, tmp_path):
        self.env = {
            **os.environ,
            "AIDFLOW_DATABASE_URL": database_url,
            "AIDFLOW_ENV": "test",
            "AIDFLOW_SECRET_KEY": SECRET,
            "AIDFLOW_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "AIDFLOW_LOG_JSON": "false",
            "AIDFLOW_OBJECTION_RATE_LIMIT": "5/hour",
            "AIDFLOW_WORKER_POLL_SECONDS": "0.2",
            "AIDFLOW_WEBHOOK_TIMEOUT_SECONDS": "5",
            "AIDFLOW_WEBHOOK_LEASE_MARGIN_SECONDS": "5",
        }
        self.logs = tmp_path
        self.processes: dict[str, subprocess.Popen] = {}
        self.bases: list[str] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")
        process = subprocess.Popen(
            command("aidflow", *args), env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes[name] = process
        return process

    def serve(self, *names: str) -> list[str]:
        """Start API replicas together (start-up seeds and deploys once: an advisory lock) and wait."""
        ports = {name: free_port() for name in names}
        for name, port in ports.items():
            self.start(name, "serve", "--port", str(port), "--no-worker")
        return [
            wait_until_up(f"http://127.0.0.1:{port}", self.processes[name], self.logs / f"{name}.log")
            for name, port in ports.items()
        ]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=20)


async def _until(check, seconds: float, what: str, explain=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}" + (f"\n{await explain()}" if explain else ""))


async def _webhook_state(database_url: str, fleet: Fleet) -> str:
    """What the tables and the workers' logs say, so a failure in CI can be understood from its output."""
    db = create_engine(database_url)
    try:
        async with db.connect() as conn:
            lines = []
            for query in (
                "SELECT id, event_type, created_at, delivered_at FROM outbox ORDER BY id DESC LIMIT 3",
                "SELECT id, created_at, active, division_path FROM webhook_subscriptions",
                "SELECT id, status, attempts, next_attempt_at, lease_until, last_error FROM webhook_deliveries",
                "SELECT offset_seconds, now() FROM service_clock",
                "SELECT pid, state, xact_start, left(query, 80) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()",
            ):
                lines += [query] + [f"  {tuple(row)}" for row in (await conn.execute(sa.text(query))).all()]
    finally:
        await db.dispose()
    for name in ("worker0", "worker1"):
        tail = (fleet.logs / f"{name}.log").read_text(errors="replace").splitlines()[-15:]
        lines += [f"{name}.log:"] + [f"  {line[:300]}" for line in tail if "provisional_deadline" not in line]
    return "\n".join(lines)


@pytest.fixture
async def fleet(pg_database_url, tmp_path):
    await _empty_postgres(pg_database_url)
    fleet = Fleet(pg_database_url, tmp_path)
    try:
        yield fleet
    finally:
        fleet.stop()


async def test_three_api_replicas_and_two_workers_on_one_database(fleet: Fleet, pg_database_url, capsys):
    bases = fleet.serve("api0", "api1", "api2")
    clients = [httpx.AsyncClient(base_url=b, timeout=60) for b in bases]
    apis = [Api(c, pg_database_url) for c in clients]
    one, two, three = apis
    try:
        # Places and people made through one replica are used through the others at once.
        await one.setup_places_and_people(ADMIN_PASSWORD)
        for other in (two, three):
            other.headers = one.headers
        r = await one.put(
            "admin",
            "/admin/divisions",
            [{"code": "340621100299", "name": "新建村", "parent_code": "340621100", "level": "village"}],
        )
        assert r.status_code == 200, r.text
        fresh = await three.apply(division_code="340621100299")
        assert (await two.open_task(fresh["id"]))["division_code"] == "340621100"

        # A setting changed through one replica is in force through the others at once.
        r = await one.put(
            "county", "/programs/linshi/settings?division_code=340621", {"values": {"monthly_standard": 812}}
        )
        assert r.status_code == 200, r.text
        for other in (two, three):
            shown = (await other.get("county", "/programs/linshi/settings", division_code="340621")).json()
            assert shown["settings"]["monthly_standard"]["value"] == 812, shown

        # The public objection allowance (5 an hour here) counts across replicas.
        answers = [
            (
                await c.post(
                    "/api/v1/public/notices/none/objections",
                    json={"entry_id": "x", "reason": "理由写满五个字"},
                )
            ).status_code
            for c in clients * 3
        ]
        assert answers == [404] * 5 + [429] * 4

        # Workers: 80 notice timers fire exactly once each across two worker processes.
        fleet.start("worker0", "worker")
        fleet.start("worker1", "worker")

        async def to_notice(i: int) -> None:
            case = await apis[i % 3].apply()
            await apis[(i + 1) % 3].to_notice(case["id"])

        for batch in range(0, TIMERS, 8):
            await asyncio.gather(*(to_notice(i) for i in range(batch, batch + 8)))
        started = time.monotonic()
        await two.advance(days=8)
        fired = await _until(
            lambda: _count_if(one, "events", "type = 'timer.fired'", TIMERS), 120, "timers fired"
        )
        took = time.monotonic() - started
        assert await one.count("tasks", "name = 'county_confirm' AND state = 'open'") == TIMERS
        assert await one.count("timers", "fired_at IS NULL") == 0
        by_case = await one.count(
            "(SELECT application_id FROM events WHERE type = 'timer.fired' "
            "GROUP BY application_id HAVING count(*) > 1) AS twice"
        )
        assert by_case == 0

        # A worker killed with -9 while it holds a webhook delivery: another takes it over once the
        # claim has run out (the send's timeout, 5 s here, plus the smallest margin, 5 s; on the
        # database's clock).
        fleet.processes["worker1"].kill()
        fleet.processes["worker1"].wait()
        with Receiver() as receiver:
            receiver.plan("/slow", "hang")
            # Through a proxy's name: a replica refuses a webhook URL on the host it is addressed by.
            async with httpx.AsyncClient(base_url=bases[0], headers={"Host": "aidflow.internal"}) as proxied:
                portal = Api(proxied, pg_database_url)
                portal.headers = one.headers
                await subscribe(
                    portal, "portal", receiver.url("/slow"), event_types=["application.submitted"]
                )
            await three.apply()
            await _until(
                lambda: _true(len(receiver.received("/slow")) == 1),
                60,
                "the first send",
                explain=lambda: _webhook_state(pg_database_url, fleet),
            )
            fleet.processes["worker0"].kill()  # it holds the claim: the only worker left
            fleet.processes["worker0"].wait()
            killed_at = time.monotonic()
            receiver.release()
            fleet.start("worker2", "worker")
            await _until(
                lambda: _count_if(one, "webhook_deliveries", "status = 'delivered'", 1),
                90,
                "the delivery taken over",
            )
            takeover = time.monotonic() - killed_at
            # At least once: the same message again, which the receiver de-duplicates on webhook-id.
            assert len(receiver.received("/slow")) == 2
            assert len({r["headers"]["webhook-id"] for r in receiver.received("/slow")}) == 1

        # An API replica sent SIGTERM under load loses nothing it acknowledged; clients retry their
        # refused or cut requests on another replica with the same Idempotency-Key.
        keys = [str(uuid.uuid4()) for _ in range(60)]
        acknowledged: dict[str, str] = {}

        async def submit(i: int, key: str) -> None:
            answers = []
            for attempt in range(6):
                api = apis[(i + attempt) % 3] if attempt else apis[2]
                try:
                    r = await api.post(
                        "portal",
                        "/applications",
                        {
                            "program": "dibao",
                            "division_code": VILLAGE_A,
                            "applicant": {"name": "李四", "id_number": _id(i), "phone": "13900000000"},
                            "data": {"household_size": 2},
                        },
                        headers={"Idempotency-Key": key},
                    )
                except httpx.TransportError as exc:
                    answers.append(repr(exc))
                    continue
                answers.append(f"{r.status_code} {r.text[:200]}")
                if r.status_code in (200, 201):
                    acknowledged[key] = r.json()["id"]
                    return
            raise AssertionError(f"request {i} never acknowledged: {answers}")

        load = asyncio.gather(*(submit(i, k) for i, k in enumerate(keys)))
        await asyncio.sleep(0.3)
        fleet.processes["api2"].send_signal(signal.SIGTERM)
        await load
        # uvicorn shuts down gracefully, then re-raises the signal it caught (exit status -15).
        assert fleet.processes["api2"].wait(timeout=30) in (0, -signal.SIGTERM)
        assert len(acknowledged) == len(keys)
        stored = await one.count(
            "applications", f"applicant_id_number IN ({', '.join(repr(_id(i)) for i in range(len(keys)))})"
        )
        assert stored == len(keys) == len(set(acknowledged.values()))
        with capsys.disabled():
            print(
                f"\nreplicas: {TIMERS} timers fired once each by 2 workers in {took:.1f} s ({fired} events); "
                f"a killed worker's delivery taken over after {takeover:.1f} s; "
                f"{len(keys)} submissions during a SIGTERM, {stored} stored, 0 lost or doubled"
            )
    finally:
        for c in clients:
            await c.aclose()


def _id(i: int) -> str:
    """Born 1975: apart from every ID number the helpers hand out (198x)."""
    first17 = f"34062119750101{i:03d}"
    return first17 + check_character(first17)


async def _true(value: bool) -> bool:
    return value


async def _count_if(api: Api, table: str, where: str, expected: int) -> int | None:
    n = await api.count(table, where)
    assert n <= expected, f"{n} rows in {table} where {where}, more than {expected}"
    return n if n == expected else None
