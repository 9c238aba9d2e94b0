"""Benchmark: dibao cases through the HTTP API on PostgreSQL, inbox latency with 100k open tasks.

Prints, from one run on one machine:
- raw asyncpg single-row write transactions per second (the baseline),
- human-task completions per second through the HTTP API (in-process ASGI) and its ratio to the baseline,
- inbox page latency p50/p99 with 100k open tasks in the table,
- saved engine state per case.

Run: ``make bench`` (or ``AIDFLOW_TEST_DATABASE_URL=... .venv/bin/python bench/bench_dibao.py``).
"""

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings
from app.db.migrate import upgrade_to_head
from app.domain.people.id_numbers import check_character
from app.main import create_app

CASES = int(os.environ.get("BENCH_CASES", "300"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
OPEN_TASKS = int(os.environ.get("BENCH_OPEN_TASKS", "100000"))
TOWNSHIPS = 200
CONFIRM = {"decision": "approve", "opinion": "同意", "monthly_amount": 600, "dibao_class": "B"}


def _id_number(i: int) -> str:
    born = date(1950, 1, 1) + timedelta(days=i // 1000)
    first17 = f"340621{born:%Y%m%d}{i % 1000:03d}"
    return first17 + check_character(first17)


async def _baseline(dsn: str, n: int) -> float:
    """Single-row write transactions over CONCURRENCY connections: the machine's own ceiling."""
    conns = [await asyncpg.connect(dsn) for _ in range(CONCURRENCY)]
    await conns[0].execute("CREATE TABLE bench_baseline (id uuid PRIMARY KEY, payload jsonb, at timestamptz)")

    async def writer(conn, count):
        for _ in range(count):
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO bench_baseline VALUES ($1, $2, now())", uuid.uuid4(), '{"a": 1}'
                )

    start = time.perf_counter()
    await asyncio.gather(*(writer(c, n // CONCURRENCY) for c in conns))
    elapsed = time.perf_counter() - start
    for c in conns:
        await c.close()
    return (n // CONCURRENCY * CONCURRENCY) / elapsed


async def _in_parallel(items, fn):
    queue = list(items)
    latencies = []

    async def worker():
        while queue:
            item = queue.pop()
            t0 = time.perf_counter()
            await fn(item)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start, latencies


@asynccontextmanager
async def in_process_service(baseline_writes: int = 0) -> AsyncIterator[tuple[httpx.AsyncClient, str, float]]:
    """A throw-away database on the test server, the app on it in this process, and a client;
    with ``baseline_writes``, the raw asyncpg baseline measured on that database first."""
    server = make_url(
        os.environ.get("AIDFLOW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    ).set(drivername="postgresql")
    name = f"aidflow_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_to_head(url)
        baseline = await _baseline(url, baseline_writes) if baseline_writes else 0.0
        settings = Settings(
            env="test",
            database_url=url,
            secret_key="bench-" + "x" * 40,
            bootstrap_admin_password="bench-admin-pass",
            log_level="WARNING",
            log_json=False,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                yield client, url, baseline
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    async with in_process_service(baseline_writes=4000) as (client, url, baseline):
        await _run(client, url, baseline)


async def setup(client: httpx.AsyncClient, townships: int = TOWNSHIPS) -> tuple[dict, dict, dict, dict]:
    """Places (a county and its townships), a township and a county reviewer, a portal key; returns
    the admin's, the township's, the county's and the portal's request headers."""

    async def token(username, password):
        r = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    admin = await token("admin", "bench-admin-pass")
    places = [
        {"code": "34", "name": "省", "parent_code": None, "level": "province"},
        {"code": "3406", "name": "市", "parent_code": "34", "level": "city"},
        {"code": "340621", "name": "县", "parent_code": "3406", "level": "county"},
    ]
    places += [
        {"code": f"340621{t:03d}", "name": f"镇{t}", "parent_code": "340621", "level": "township"}
        for t in range(townships)
    ]
    assert (await client.put("/api/v1/admin/divisions", json=places, headers=admin)).status_code == 200
    for username, role, code in (
        ("town", "township_civil_affairs", "340621000"),
        ("county", "county_civil_affairs", "340621"),
    ):
        r = await client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "username": username,
                "password": "bench-password",
                "display_name": username,
                "grants": [{"role": role, "division_code": code}],
            },
        )
        assert r.status_code == 201, r.text
    town, county = await token("town", "bench-password"), await token("county", "bench-password")
    key = (
        await client.post(
            "/api/v1/admin/api-keys",
            headers=admin,
            json={"name": "portal", "grants": [{"role": "portal", "division_code": "340621"}]},
        )
    ).json()["key"]
    portal = {"X-API-Key": key}
    return admin, town, county, portal


async def _run(client: httpx.AsyncClient, url: str, baseline: float) -> None:
    admin, town, county, portal = await setup(client)

    async def create(i):
        r = await client.post(
            "/api/v1/applications",
            headers=portal,
            json={
                "program": "dibao",
                "division_code": "340621000",
                "applicant": {"name": f"申请人{i}", "id_number": _id_number(i)},
                "data": {"household_size": 3},
            },
        )
        assert r.status_code == 201, r.text
        case_tasks[r.json()["id"]] = r.json()["open_tasks"][0]["id"]

    def complete_with(headers, data):
        async def run(app_id):
            r = await client.post(
                f"/api/v1/tasks/{case_tasks[app_id]}/complete", headers=headers, json={"data": data}
            )
            assert r.status_code == 200, r.text
            nxt = r.json()["next_tasks"]
            case_tasks[app_id] = nxt[0]["id"] if nxt else None

        return run

    case_tasks: dict[str, str | None] = {}
    create_time, _ = await _in_parallel(range(CASES), create)
    completion_time, latencies = 0.0, []
    for headers, data in ((town, {"decision": "accept"}), (town, {"decision": "approve", "opinion": "属实"})):
        elapsed, lat = await _in_parallel(list(case_tasks), complete_with(headers, data))
        completion_time += elapsed
        latencies += lat
    await client.post("/api/v1/admin/clock", headers=admin, json={"advance_seconds": 8 * 86400})
    t0 = time.perf_counter()
    fired = (await client.post("/api/v1/admin/timers/run", headers=admin)).json()["fired"]
    timer_time = time.perf_counter() - t0
    for app_id in case_tasks:
        case_tasks[app_id] = None
    for offset in range(0, CASES, 200):
        page = (
            await client.get("/api/v1/tasks", headers=county, params={"limit": 200, "offset": offset})
        ).json()
        for t in page["items"]:
            case_tasks[t["application_id"]] = t["id"]
    elapsed, lat = await _in_parallel([a for a, t in case_tasks.items() if t], complete_with(county, CONFIRM))
    completion_time += elapsed
    latencies += lat
    completions = len(latencies)

    conn = await asyncpg.connect(url)
    approved = await conn.fetchval("SELECT count(*) FROM applications WHERE status = 'approved'")
    state_avg, state_max = await conn.fetchrow(
        "SELECT avg(octet_length(engine_state::text)), max(octet_length(engine_state::text)) FROM applications"
    )
    any_app = await conn.fetchval("SELECT id FROM applications LIMIT 1")
    await conn.execute(f"""
        INSERT INTO tasks (id, application_id, program, engine_task_id, name, title, role, division_code,
                           division_path, state, created_at, due_at)
        SELECT gen_random_uuid()::text, '{any_app}', 'dibao', gen_random_uuid()::text, 'initial_review', '初审',
               'township_civil_affairs', '340621' || lpad((g % {TOWNSHIPS})::text, 3, '0'),
               '/34/3406/340621/340621' || lpad((g % {TOWNSHIPS})::text, 3, '0') || '/', 'open',
               now(), now() + (g % 1000) * interval '1 hour'
        FROM generate_series(1, {OPEN_TASKS}) g""")
    await conn.execute("ANALYZE tasks")
    open_tasks = await conn.fetchval("SELECT count(*) FROM tasks WHERE state = 'open'")
    await conn.close()

    inbox = []
    for headers, params in [(town, {"limit": 50})] * 300 + [(county, {"scope": "all", "limit": 50})] * 100:
        t0 = time.perf_counter()
        r = await client.get("/api/v1/tasks", headers=headers, params=params)
        inbox.append((time.perf_counter() - t0, params.get("scope", "candidate")))
        assert r.status_code == 200 and r.json()["items"]

    def pct(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(len(values) * p))] * 1000

    rate = completions / completion_time
    print(f"machine: {os.cpu_count()} cores; PostgreSQL at {make_url(url).host}; concurrency {CONCURRENCY}")
    print(f"baseline raw asyncpg single-row write transactions/s: {baseline:,.0f}")
    print(f"applications created: {CASES} in {create_time:.2f}s ({CASES / create_time:,.0f}/s)")
    print(
        f"task completions through HTTP: {completions} in {completion_time:.2f}s = {rate:,.0f}/s "
        f"(ratio to baseline {rate / baseline:.3f}); latency p50 {pct(latencies, 0.5):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms"
    )
    print(
        f"notice timers fired by one in-process run: {fired} in {timer_time:.2f}s ({fired / timer_time:,.0f}/s)"
    )
    print(f"cases approved: {approved}/{CASES}")
    print(f"saved engine state per case: avg {state_avg:,.0f} B, max {state_max:,} B (target <= 4096)")
    for scope in ("candidate", "all"):
        values = [d for d, s in inbox if s == scope]
        print(
            f"inbox page (50 rows, scope={scope}) with {open_tasks:,} open tasks over HTTP: "
            f"p50 {pct(values, 0.5):.2f} ms, p99 {pct(values, 0.99):.2f} ms ({len(values)} requests)"
        )


if __name__ == "__main__":
    asyncio.run(main())
