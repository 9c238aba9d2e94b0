"""Benchmark of the service as deployed: `aidflow serve --no-worker` replicas and `aidflow worker`
processes on one PostgreSQL database, driven over real HTTP, every figure printed beside the
same run's pgbench TPC-B baseline.

Steps (each timed apart, after a warm-up): intake (applications), each human step of 低保
(acceptance, initial review, county confirmation), notice timers fired by the workers, the inbox
page with a million open tasks (rows generated in SQL), saved state per case and resident memory
per process. The run is appended to bench/RESULTS.md with the commit and the machine.

Run: ``make bench`` (PostgreSQL from AIDFLOW_TEST_DATABASE_URL, as the tests). Sizes: BENCH_CASES,
BENCH_CONCURRENCY, BENCH_REPLICAS, BENCH_WORKERS, BENCH_OPEN_TASKS, BENCH_PGBENCH_SECONDS.
``BENCH_ONLY=inbox`` runs the inbox part alone (pgbench, a few cases through the API, then the
generated open tasks each of its own case, every inbox scope and the search timed; no workers) and
appends to its own table;
``BENCH_ONLY=reports`` times the reports over rollups of 1,000,000 cases (bench/bench_reports.py);
``BENCH_KEEP_DB=1`` leaves the database in place (its name is printed) for EXPLAIN.
"""

import asyncio
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.domain.people.id_numbers import check_character  # noqa: E402
from bench import bench_reports  # noqa: E402

CASES = int(os.environ.get("BENCH_CASES", "2000"))
WARM_UP = 100
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
REPLICAS = int(os.environ.get("BENCH_REPLICAS", "2"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
OPEN_TASKS = int(os.environ.get("BENCH_OPEN_TASKS", "1000000"))
PGBENCH_SECONDS = int(os.environ.get("BENCH_PGBENCH_SECONDS", "20"))
ONLY = os.environ.get("BENCH_ONLY", "")
KEEP_DB = os.environ.get("BENCH_KEEP_DB") == "1"
TOWNSHIPS = 200
ADMIN_PASSWORD = "bench-admin-password-1"
PASSWORD = "bench-reviewer-password-1"
CONFIRM = {"decision": "approve", "opinion": "同意", "monthly_amount": 600, "dibao_class": "B"}
# Goals as ratios to pgbench TPC-B tps of the same run (issue 17), or absolute where the goal is.
GOALS = {
    "intake": 0.33,
    "accept_application": 0.2,
    "initial_review": 0.2,
    "county_confirm": 0.2,
    "timers": 0.2,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _id_number(i: int) -> str:
    born = date(1940, 1, 1) + timedelta(days=i // 1000)
    first17 = f"340621{born:%Y%m%d}{i % 1000:03d}"
    return first17 + check_character(first17)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        raise SystemExit(f"{name} is not installed (Debian: apt-get install postgresql-contrib)")
    return str(candidates[-1])


def pgbench_tps(server: make_url, seconds: int) -> float:
    """TPC-B (pgbench's default script), scale 10, 8 clients, 2 threads, on a database of its own."""
    name = f"aidflow_pgbench_{uuid.uuid4().hex[:8]}"
    args = [
        "-h",
        server.host or "127.0.0.1",
        "-p",
        str(server.port or 5432),
        "-U",
        server.username or "postgres",
    ]
    env = {**os.environ, **({"PGPASSWORD": server.password} if server.password else {})}
    subprocess.run([_pg_bin("createdb"), *args, name], env=env, check=True)
    try:
        subprocess.run(
            [_pg_bin("pgbench"), *args, "-i", "-s", "10", "-q", name],
            env=env,
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [_pg_bin("pgbench"), *args, "-c", "8", "-j", "2", "-T", str(seconds), "-n", name],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        subprocess.run([_pg_bin("dropdb"), *args, "--force", name], env=env, check=False)
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


class Processes:
    def __init__(self, env: dict, logs: Path):
        self.env, self.logs, self.running = env, logs, {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        aidflow = str(Path(sys.executable).parent / "aidflow")
        process = subprocess.Popen(
            [aidflow, *args],
            env=self.env,
            stdout=open(self.logs / f"{name}.log", "w"),
            stderr=subprocess.STDOUT,
        )
        self.running[name] = process
        return process

    def rss_mb(self, name: str) -> float:
        status = Path(f"/proc/{self.running[name].pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def _in_parallel(items, fn) -> tuple[float, list[float]]:
    queue, latencies = list(items), []

    async def worker():
        while queue:
            item = queue.pop()
            t0 = time.perf_counter()
            await fn(item)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start, latencies


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


async def main() -> None:
    server = make_url(
        os.environ.get("AIDFLOW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    server = server.set(drivername="postgresql")
    if ONLY not in ("", "inbox", "reports"):
        raise SystemExit(f"BENCH_ONLY={ONLY!r}: only 'inbox' and 'reports' are known")
    tps = 0.0
    if ONLY != "reports":  # the inbox's runs, like the full one, stand beside pgbench of the same run
        print(f"pgbench TPC-B baseline ({PGBENCH_SECONDS} s)...", flush=True)
        tps = pgbench_tps(server, PGBENCH_SECONDS)
    name = f"aidflow_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / name
    logs.mkdir()
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": url,
        # The inbox alone runs as deployed (production); the full run needs the test clock, whose
        # middleware reads the clock's offset before every request (two round trips more).
        "AIDFLOW_ENV": "production" if ONLY == "inbox" else "test",
        "AIDFLOW_SECRET_KEY": "bench-" + "x" * 40,
        "AIDFLOW_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "AIDFLOW_LOG_LEVEL": "WARNING",
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_WORKER_POLL_SECONDS": "0.1",
    }
    processes = Processes(env, logs)
    try:
        subprocess.run(
            [str(Path(sys.executable).parent / "aidflow"), "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        bases = []
        for i in range(REPLICAS):
            port = _free_port()
            processes.start(f"api{i}", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker")
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            for _ in range(300):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        clients = [httpx.AsyncClient(base_url=b, timeout=120, limits=limits) for b in bases]
        try:
            runs = {"inbox": _run_inbox_only, "reports": bench_reports.run}
            figures = await runs.get(ONLY, _run)(clients, url, processes)
        finally:
            for c in clients:
                await c.aclose()
    finally:
        processes.stop()
        if KEEP_DB:
            print(f"database kept: {name}", flush=True)
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    if ONLY == "inbox":
        _report_inbox(tps, figures)
    elif ONLY == "reports":
        bench_reports.report(figures)
    else:
        _report(tps, figures)


class _Service:
    """The replicas behind a round-robin "load balancer", and the people of the benchmark."""

    def __init__(self, clients: list[httpx.AsyncClient]):
        self.clients, self.first, self.counter = clients, clients[0], iter(range(10**9))
        self.case_tasks: dict[str, str | None] = {}

    def client(self) -> httpx.AsyncClient:  # round robin over the replicas, as a load balancer would
        return self.clients[next(self.counter) % len(self.clients)]

    async def token(self, username: str, password: str) -> dict:
        r = await self.first.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def set_up(self) -> None:
        self.admin = admin = await self.token("admin", ADMIN_PASSWORD)
        places = [
            {"code": "34", "name": "省", "parent_code": None, "level": "province"},
            {"code": "3406", "name": "市", "parent_code": "34", "level": "city"},
            {"code": "340621", "name": "县", "parent_code": "3406", "level": "county"},
        ]
        places += [
            {"code": f"340621{t:03d}", "name": f"镇{t}", "parent_code": "340621", "level": "township"}
            for t in range(TOWNSHIPS)
        ]
        r = await self.first.put("/api/v1/admin/divisions", json=places, headers=admin)
        assert r.status_code == 200, r.text
        for username, grants in (
            ("town", [("township_civil_affairs", "340621000")]),
            ("county", [("county_civil_affairs", "340621")]),
            # A reviewer who stands in for 20 townships: 20 grants, a tenth of the open tasks.
            ("towns", [("township_civil_affairs", f"340621{t:03d}") for t in range(100, 120)]),
        ):
            r = await self.first.post(
                "/api/v1/admin/users",
                headers=admin,
                json={
                    "username": username,
                    "password": PASSWORD,
                    "display_name": username,
                    "grants": [{"role": role, "division_code": code} for role, code in grants],
                },
            )
            assert r.status_code == 201, r.text
        self.town = await self.token("town", PASSWORD)
        self.county = await self.token("county", PASSWORD)
        self.towns = await self.token("towns", PASSWORD)
        r = await self.first.post(
            "/api/v1/admin/api-keys",
            headers=admin,
            json={"name": "portal", "grants": [{"role": "portal", "division_code": "340621"}]},
        )
        self.portal = {"X-API-Key": r.json()["key"]}

    async def create(self, i: int) -> None:
        r = await self.client().post(
            "/api/v1/applications",
            headers=self.portal,
            json={
                "program": "dibao",
                "division_code": "340621000",
                "applicant": {"name": f"申请人{i}", "id_number": _id_number(i)},
                "data": {"household_size": 3},
            },
        )
        assert r.status_code == 201, r.text
        self.case_tasks[r.json()["id"]] = r.json()["open_tasks"][0]["id"]

    def complete_with(self, headers: dict, data: dict):
        async def run(app_id: str) -> None:
            r = await self.client().post(
                f"/api/v1/tasks/{self.case_tasks[app_id]}/complete", headers=headers, json={"data": data}
            )
            assert r.status_code == 200, r.text
            nxt = r.json()["next_tasks"]
            self.case_tasks[app_id] = nxt[0]["id"] if nxt else None

        return run


async def _run(clients: list[httpx.AsyncClient], url: str, processes: Processes) -> dict:
    service = _Service(clients)
    await service.set_up()
    admin, town, county = service.admin, service.town, service.county
    case_tasks, create, complete_with = service.case_tasks, service.create, service.complete_with
    steps = [
        ("accept_application", town, {"decision": "accept"}),
        ("initial_review", town, {"decision": "approve", "opinion": "属实"}),
    ]
    # Warm-up: every code path once per replica and process caches filled; not counted.
    await _in_parallel(range(CASES, CASES + WARM_UP), create)
    for _, headers, data in steps:
        await _in_parallel(list(case_tasks), complete_with(headers, data))
    case_tasks.clear()

    figures: dict = {}
    elapsed, lat = await _in_parallel(range(CASES), create)
    figures["intake"] = (CASES / elapsed, lat)
    for step, headers, data in steps:
        elapsed, lat = await _in_parallel(list(case_tasks), complete_with(headers, data))
        figures[step] = (len(lat) / elapsed, lat)

    conn = await asyncpg.connect(url)
    try:
        await service.first.post("/api/v1/admin/clock", headers=admin, json={"advance_seconds": 8 * 86400})
        due = await conn.fetchval("SELECT count(*) FROM timers WHERE fired_at IS NULL AND NOT cancelled")
        start = time.perf_counter()
        for i in range(WORKERS):
            processes.start(f"worker{i}", "worker")
        while await conn.fetchval("SELECT count(*) FROM timers WHERE fired_at IS NULL AND NOT cancelled"):
            await asyncio.sleep(0.05)
        figures["timers"] = (due / (time.perf_counter() - start), [])

        case_tasks.clear()
        rows = await conn.fetch(
            "SELECT application_id, id FROM tasks WHERE state = 'open' AND name = 'county_confirm'"
        )
        case_tasks.update({r["application_id"]: r["id"] for r in rows})
        elapsed, lat = await _in_parallel(list(case_tasks), complete_with(county, CONFIRM))
        figures["county_confirm"] = (len(lat) / elapsed, lat)
        figures["rss"] = {n: processes.rss_mb(n) for n in processes.running}
        figures["approved"] = await conn.fetchval(
            "SELECT count(*) FROM applications WHERE status = 'approved'"
        )
        figures["state"] = await conn.fetchrow(
            "SELECT avg(octet_length(engine_state::text)) AS avg, max(octet_length(engine_state::text)) AS max "
            "FROM applications"
        )
        figures["open_tasks"] = await _generate_open_tasks(conn)
    finally:
        await conn.close()
    figures.update(await _time_inbox(service))
    return figures


# Names of the generated cases: 20 surnames × 40 × 40 given names, so each name belongs to ~30 cases
# of a million (as Chinese names repeat) and a surname to one in twenty; drawn from a hash of the
# case's index, so a name says nothing of the case's place or deadline.
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文淑珍凤云辉鹏宇浩"


def generated_case(g: int) -> dict:
    """What ``_generate_open_tasks`` writes for case ``g`` (1-based), for the search benchmark."""
    return {
        "number": f"DB-340621-2026-{g:07d}",
        "name": "".join(
            letters[byte % len(letters)]
            for letters, byte in zip(
                (SURNAMES, GIVEN, GIVEN), hashlib.md5(str(g).encode()).digest()[:3], strict=True
            )
        ),
        "id_number": f"340621{date(1950, 1, 1) + timedelta(days=g // 1000):%Y%m%d}{g % 1000:03d}"
        + str(g % 10),
    }


async def _generate_open_tasks(conn) -> int:
    """OPEN_TASKS open, unclaimed township steps spread over the townships, each of its own case (a
    number, an applicant's name and ID number, as ``generated_case`` says), written in SQL."""
    template = await conn.fetchval("SELECT id FROM applications LIMIT 1")
    await conn.execute(f"""
        INSERT INTO applications (id, number, program, definition_id, definition_version, division_code,
                                  division_path, status, applicant, applicant_id_number, data, engine_state,
                                  version, created_by, created_at, updated_at, settings)
        SELECT md5(g::text)::uuid::text, 'DB-340621-2026-' || lpad(g::text, 7, '0'), t.program,
               t.definition_id, t.definition_version, '340621' || lpad((g % {TOWNSHIPS})::text, 3, '0'),
               '/34/3406/340621/340621' || lpad((g % {TOWNSHIPS})::text, 3, '0') || '/', 'in_progress',
               jsonb_build_object('name', substr('{SURNAMES}', get_byte(n.h, 0) % 20 + 1, 1)
                                  || substr('{GIVEN}', get_byte(n.h, 1) % 40 + 1, 1)
                                  || substr('{GIVEN}', get_byte(n.h, 2) % 40 + 1, 1),
                                  'id_number', n.id_number),
               n.id_number, '{{}}', '{{}}', 1, t.created_by, now(), now(), '{{}}'
        FROM applications t, generate_series(1, {OPEN_TASKS}) g,
             LATERAL (SELECT '340621' || to_char(date '1950-01-01' + g / 1000, 'YYYYMMDD')
                             || lpad((g % 1000)::text, 3, '0') || (g % 10)::text AS id_number,
                             decode(md5(g::text), 'hex') AS h) n
        WHERE t.id = '{template}'""")
    await conn.execute(f"""
        INSERT INTO tasks (id, application_id, case_number, program, engine_task_id, name, title, role,
                           division_code, division_path, state, created_at, due_at)
        SELECT gen_random_uuid()::text, md5(g::text)::uuid::text, 'DB-340621-2026-' || lpad(g::text, 7, '0'),
               'dibao', gen_random_uuid()::text, 'initial_review', '初审',
               'township_civil_affairs', '340621' || lpad((g % {TOWNSHIPS})::text, 3, '0'),
               '/34/3406/340621/340621' || lpad((g % {TOWNSHIPS})::text, 3, '0') || '/', 'open',
               now(), now() + (g % 1000) * interval '1 hour'
        FROM generate_series(1, {OPEN_TASKS}) g""")
    await conn.execute("VACUUM ANALYZE applications")
    await conn.execute("VACUUM ANALYZE tasks")
    return await conn.fetchval("SELECT count(*) FROM tasks WHERE state = 'open'")


# (name, user, query parameters, requests): every inbox tab on its default sort, the 已办 tab as the
# web UI shows it, a second page, a place filter, and the search box (one case of the million by
# number, ID number, name and part of a name; a township's search by part of a name).
SEARCHED = generated_case(123457)
INBOX_CASES = (
    ("candidate", "town", {"limit": 50}, 300),
    ("all", "county", {"scope": "all", "limit": 50}, 100),
    ("candidate_20_townships", "towns", {"limit": 50}, 100),
    ("candidate_page_2", "town", {"limit": 50, "offset": 50}, 100),
    ("all_open_town", "town", {"scope": "all", "state": "open", "limit": 50}, 100),
    ("all_one_township", "county", {"scope": "all", "division_code": "340621007", "limit": 50}, 100),
    ("mine", "town", {"scope": "mine", "limit": 50}, 100),
    ("done", "town", {"scope": "done", "sort": "-completed_at", "limit": 50}, 100),
    ("cc", "town", {"scope": "cc", "limit": 50}, 100),
    ("started", "portal", {"scope": "started", "limit": 50}, 100),
    ("counts", "town", None, 100),
    ("search_number", "county", {"scope": "all", "q": SEARCHED["number"]}, 100),
    ("search_id_number", "county", {"scope": "all", "q": SEARCHED["id_number"]}, 100),
    ("search_name", "county", {"scope": "all", "q": SEARCHED["name"]}, 100),
    ("search_name_part", "county", {"scope": "all", "q": SEARCHED["name"][1:]}, 100),
    ("search_town_name_part", "town", {"q": SEARCHED["name"][1:]}, 100),
)
# Each of these must list rows (the search ones: the searched case among them).
MUST_LIST = ("candidate", "all", "search_number", "search_id_number", "search_name", "search_name_part")


async def _time_inbox(service: _Service, must_list=MUST_LIST) -> dict:
    figures = {}
    for name, who, params, n in INBOX_CASES:
        headers = getattr(service, who)
        path = "/api/v1/tasks" if params is not None else "/api/v1/tasks/counts"
        for _ in range(5):  # warm-up of this query on each replica
            await service.client().get(path, headers=headers, params=params)
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            r = await service.client().get(path, headers=headers, params=params)
            lat.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
        if name in must_list:
            assert r.json()["items"], f"{name}: {r.text}"
        if name in must_list and params.get("q") and name != "search_name_part":
            assert SEARCHED["number"] in [t["case_number"] for t in r.json()["items"]], f"{name}: {r.text}"
        figures[f"inbox_{name}"] = lat
    return figures


async def _run_inbox_only(clients: list[httpx.AsyncClient], url: str, processes: Processes) -> dict:
    """A few cases through the API (so 我的待办 and 已办 hold rows), then the generated open tasks."""
    service = _Service(clients)
    await service.set_up()
    await _in_parallel(range(60), service.create)
    accepted = list(service.case_tasks)[:40]
    await _in_parallel(accepted, service.complete_with(service.town, {"decision": "accept"}))
    for app_id in list(service.case_tasks)[40:]:  # 20 claimed by the township reviewer: 我的待办
        r = await service.first.post(
            f"/api/v1/tasks/{service.case_tasks[app_id]}/claim", headers=service.town
        )
        assert r.status_code == 200, r.text
    conn = await asyncpg.connect(url)
    try:
        figures = {"open_tasks": await _generate_open_tasks(conn)}
    finally:
        await conn.close()
    figures.update(await _time_inbox(service, (*MUST_LIST, "mine", "done")))
    return figures


def _report_inbox(tps: float, figures: dict) -> None:
    commit = (
        subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    load = os.getloadavg()[0]
    lines = [
        f"machine: {os.cpu_count()} cores, load average {load:.1f} at the end; commit {commit}; "
        f"{REPLICAS} API replicas (AIDFLOW_ENV=production); {figures['open_tasks']:,} open tasks; inbox only",
        f"pgbench TPC-B (scale 10, 8 clients): {tps:,.0f} tps, a transaction every {8000 / tps:.2f} ms per client",
    ]
    cells = []
    for name, who, params, _ in INBOX_CASES:
        lat = figures[f"inbox_{name}"]
        p99 = _pct(lat, 0.99)
        lines.append(
            f"{name} ({who}, {params}): p50 {_pct(lat, 0.5):.2f} ms, p99 {p99:.2f} ms "
            f"(goal ≤ 10 ms: {'met' if p99 <= 10 else 'NOT met'})"
        )
        cells.append(f"{_pct(lat, 0.5):.1f} / {p99:.1f}")
    print("\n".join(lines))
    results = ROOT / "bench" / "RESULTS.md"
    text = results.read_text()
    header = (
        "\n## `BENCH_ONLY=inbox bench/bench_service.py` runs (inbox pages over real HTTP, p50 / p99 ms)\n\n"
        "| when (UTC) | commit | machine | pgbench tps | open tasks | "
        + " | ".join(name for name, *_ in INBOX_CASES)
        + " |\n|"
        + "---|" * (5 + len(INBOX_CASES))
        + "\n"
    )
    if header.strip() not in text:
        text = text.rstrip("\n") + "\n" + header
    row = [
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        commit,
        f"{os.cpu_count()} cores, load {load:.1f}, {REPLICAS} replicas",
        f"{tps:,.0f}",
        f"{figures['open_tasks']:,}",
        *cells,
    ]
    results.write_text(text.rstrip("\n") + "\n| " + " | ".join(row) + " |\n")


def _report(tps: float, figures: dict) -> None:
    commit = (
        subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    load = os.getloadavg()[0]
    lines = [
        f"machine: {os.cpu_count()} cores, load average {load:.1f} at the end; commit {commit}; "
        f"{REPLICAS} API replicas, {WORKERS} workers, {CONCURRENCY} concurrent clients, {CASES} cases",
        f"pgbench TPC-B (scale 10, 8 clients): {tps:,.0f} tps = 1.00",
    ]
    row = [
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        commit,
        f"{os.cpu_count()} cores, load {load:.1f}",
        f"{tps:,.0f}",
    ]
    for step in ("intake", "accept_application", "initial_review", "timers", "county_confirm"):
        rate, lat = figures[step]
        goal = GOALS[step]
        met = "met" if rate / tps >= goal else "NOT met"
        detail = f"; p50 {_pct(lat, 0.5):.1f} ms, p99 {_pct(lat, 0.99):.1f} ms" if lat else ""
        lines.append(f"{step}: {rate:,.0f}/s = {rate / tps:.3f} × pgbench (goal {goal}: {met}){detail}")
        row.append(f"{rate:,.0f} ({rate / tps:.3f})")
    for scope in ("candidate", "all"):
        lat = figures[f"inbox_{scope}"]
        p99 = _pct(lat, 0.99)
        lines.append(
            f"inbox page (50 rows, scope={scope}) with {figures['open_tasks']:,} open tasks: "
            f"p50 {_pct(lat, 0.5):.2f} ms, p99 {p99:.2f} ms (goal ≤ 10 ms: {'met' if p99 <= 10 else 'NOT met'})"
        )
        row.append(f"{p99:.1f} ms")
    for name, who, params, _ in INBOX_CASES:
        if name not in ("candidate", "all"):
            lat = figures[f"inbox_{name}"]
            lines.append(
                f"inbox {name} ({who}, {params}): p50 {_pct(lat, 0.5):.2f} ms, p99 {_pct(lat, 0.99):.2f} ms"
            )
    state = figures["state"]
    lines.append(
        f"saved state per case: avg {state['avg']:,.0f} B, max {state['max']:,} B (goal ≤ 4096: "
        f"{'met' if state['max'] <= 4096 else 'NOT met'}); cases approved {figures['approved']}"
    )
    rss = figures["rss"]
    lines.append(
        "resident memory (MB): "
        + ", ".join(f"{n} {v:.0f}" for n, v in rss.items())
        + f" (goal ≤ 300: {'met' if max(rss.values()) <= 300 else 'NOT met'})"
    )
    row += [f"{state['avg']:,.0f} B", f"{max(rss.values()):.0f} MB"]
    print("\n".join(lines))
    results = ROOT / "bench" / "RESULTS.md"
    text = results.read_text()
    header = (
        "\n## `bench/bench_service.py` runs (the service as deployed, over real HTTP)\n\n"
        "| when (UTC) | commit | machine | pgbench tps | intake/s | accept/s | review/s | timers/s | "
        "confirm/s | inbox p99 (cand.) | inbox p99 (all) | state avg | max RSS |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    if header.strip() not in text:
        text = text.rstrip("\n") + "\n" + header
    results.write_text(text.rstrip("\n") + "\n| " + " | ".join(row) + " |\n")


if __name__ == "__main__":
    asyncio.run(main())
