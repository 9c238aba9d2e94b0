"""The failover drill (`make drill`): kill the PostgreSQL primary under load, promote the standby,
and prove the service carries on without a restart and loses no acknowledged write.

What it builds, all on this machine and thrown away at the end:
- a primary and a hot standby (two private clusters on two free ports, streaming replication,
  the standby synchronous: ``synchronous_standby_names`` on the primary, ``synchronous_commit=on``),
  checked in ``pg_stat_replication`` (streaming, sync) before any load;
- two ``aidflow serve --no-worker`` replicas and one ``aidflow worker``, configured with BOTH hosts
  and ``target_session_attrs=read-write`` so that they find whichever server accepts writes;
- a load of clients over real HTTP: each submits an application with an Idempotency-Key, then
  completes its first task (受理); a failed request (transport error or 5xx) is retried with the
  same key / same task for a bounded time, as a portal would.

Mid-load the primary's postmaster gets SIGKILL, the standby is promoted (``pg_ctl promote``) after
DRILL_PROMOTE_DELAY seconds (the time a watchdog or an operator takes), and the load continues.
Then, on the promoted server: every acknowledged submission exists, exactly once; every
acknowledged completion is recorded; the service processes are still the ones started at first.
Exit status 1 on any loss or duplicate, or if a service process died.

Sizes: DRILL_CLIENTS (8), DRILL_SECONDS (total load, 30), DRILL_KILL_AT (seconds into the load, 8),
DRILL_PROMOTE_DELAY (2), DRILL_RETRY_SECONDS (how long a client keeps retrying one request, 60),
DRILL_ENV (AIDFLOW_ENV of the service, production; "test" adds the test clock's read per request).
"""

import asyncio
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.domain.people.id_numbers import check_character  # noqa: E402

CLIENTS = int(os.environ.get("DRILL_CLIENTS", "8"))
SECONDS = float(os.environ.get("DRILL_SECONDS", "30"))
KILL_AT = float(os.environ.get("DRILL_KILL_AT", "8"))
PROMOTE_DELAY = float(os.environ.get("DRILL_PROMOTE_DELAY", "2"))
RETRY_SECONDS = float(os.environ.get("DRILL_RETRY_SECONDS", "60"))
ADMIN_PASSWORD = "drill-admin-password-1"
PASSWORD = "drill-reviewer-password-1"
AIDFLOW = str(Path(sys.executable).parent / "aidflow")


class DrillFailure(Exception):
    """A client could not get a write through (raised in a task: SystemExit would skip the clean-up)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _id_number(i: int) -> str:
    born = date(1940, 1, 1) + timedelta(days=i // 1000)
    first17 = f"340621{born:%Y%m%d}{i % 1000:03d}"
    return first17 + check_character(first17)


def _pg_bindir() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if not found:
        raise SystemExit("PostgreSQL server binaries are missing (Debian: apt-get install postgresql)")
    return Path(found).parent


class Cluster:
    """One private PostgreSQL cluster; run as the postgres account when we are root (initdb refuses root)."""

    def __init__(self, bindir: Path, root: Path, name: str):
        self.bindir, self.dir, self.port = bindir, root / name, _free_port()
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_owner, str(self.bindir / tool), *args], check=check, capture_output=True, text=True
        )

    def start(self, *settings: str) -> None:
        options = " ".join([f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", *settings])
        self.run("pg_ctl", "-D", str(self.dir), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def postmaster_pid(self) -> int:
        return int((self.dir / "postmaster.pid").read_text().splitlines()[0])

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def build_pair(root: Path) -> tuple[Cluster, Cluster]:
    bindir = _pg_bindir()
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
    primary, standby = Cluster(bindir, root, "primary"), Cluster(bindir, root, "standby")
    # trust on 127.0.0.1, replication included (initdb's default pg_hba.conf with --auth=trust).
    primary.run("initdb", "-D", str(primary.dir), "-U", "postgres", "--auth=trust")
    # Synchronous replication is set on the primary's command line, not in postgresql.conf, so the
    # standby's copy of the configuration does not make the promoted server wait for a standby it lacks.
    primary.start(
        "-c synchronous_standby_names=standby1",
        "-c synchronous_commit=on",
        "-c wal_level=replica",
        "-c max_wal_senders=5",
    )
    standby.run(
        "pg_basebackup",
        "-h",
        "127.0.0.1",
        "-p",
        str(primary.port),
        "-U",
        "postgres",
        "-D",
        str(standby.dir),
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
    )
    with open(standby.dir / "postgresql.auto.conf", "a") as conf:  # a later line wins: name it for sync
        conf.write(
            f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user=postgres "
            f"application_name=standby1'\n"
        )
    standby.start("-c hot_standby=on")
    return primary, standby


async def wait_sync_streaming(primary: Cluster) -> None:
    conn = await asyncpg.connect(primary.dsn())
    try:
        for _ in range(200):
            row = await conn.fetchrow(
                "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = 'standby1'"
            )
            if row and row["state"] == "streaming" and row["sync_state"] == "sync":
                print(f"replication: standby1 {row['state']}, {row['sync_state']}", flush=True)
                return
            await asyncio.sleep(0.1)
        raise SystemExit(f"the standby is not streaming synchronously: {row}")
    finally:
        await conn.close()


class Load:
    """Clients that submit and complete, each request retried with the same key for a bounded time."""

    def __init__(self, clients: list[httpx.AsyncClient], portal: dict, town: dict):
        self.clients, self.portal, self.town = clients, portal, town
        self.counter = 0
        self.submitted: dict[str, str] = {}  # acknowledged: idempotency key -> application id
        self.completed: set[str] = set()  # acknowledged (2xx) completions: task ids
        self.ambiguous: set[str] = set()  # a retry after a failure found the task already done (409)
        self.failures: list[float] = []  # times of failed attempts (before a retry succeeded)
        self.successes: list[float] = []  # times writes were acknowledged
        self.kinds: Counter[str] = Counter()  # failed attempts by answer: 503 database_unavailable, 500, ...
        self.gave_up = 0

    def client(self) -> httpx.AsyncClient:  # round robin over the replicas, as a load balancer would
        self.counter += 1
        return self.clients[self.counter % len(self.clients)]

    async def _with_retry(self, send) -> httpx.Response | None:
        deadline, failed = time.monotonic() + RETRY_SECONDS, False
        while time.monotonic() < deadline:
            try:
                r = await send(self.client())
                if r.status_code < 500:
                    r.retried = failed
                    return r
                self.kinds[f"{r.status_code} {r.json().get('code')}"] += 1
            except httpx.TransportError as exc:
                self.kinds[type(exc).__name__] += 1
            failed = True
            self.failures.append(time.monotonic())
            await asyncio.sleep(0.2)
        self.gave_up += 1
        return None

    async def one_case(self, i: int) -> None:
        key = f"drill-{uuid.uuid4().hex}"
        body = {
            "program": "dibao",
            "division_code": "340621000",
            "applicant": {"name": f"申请人{i}", "id_number": _id_number(i)},
            "data": {"household_size": 3},
        }
        r = await self._with_retry(
            lambda c: c.post(
                "/api/v1/applications", headers={**self.portal, "Idempotency-Key": key}, json=body
            )
        )
        if r is None or r.status_code not in (200, 201):
            raise DrillFailure(f"submission {i} refused: {r and r.status_code} {r and r.text}")
        self.submitted[key] = r.json()["id"]
        self.successes.append(time.monotonic())
        task = r.json()["open_tasks"][0]["id"]
        r = await self._with_retry(
            lambda c: c.post(
                f"/api/v1/tasks/{task}/complete", headers=self.town, json={"data": {"decision": "accept"}}
            )
        )
        if r is not None and r.status_code == 200:
            self.completed.add(task)
            self.successes.append(time.monotonic())
        elif r is not None and r.status_code == 409 and r.retried:
            self.ambiguous.add(task)  # the first attempt committed but its answer was lost
        else:
            raise DrillFailure(f"completion of {task} refused: {r and r.status_code} {r and r.text}")

    async def run(self, until: float) -> None:
        serial = iter(range(10**9))

        async def client_loop():
            while time.monotonic() < until:
                await self.one_case(next(serial))

        await asyncio.gather(*(client_loop() for _ in range(CLIENTS)))


async def set_up(base: str) -> tuple[dict, dict]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def token(username: str, password: str) -> dict:
            r = await http.post("/api/v1/auth/token", data={"username": username, "password": password})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        admin = await token("admin", ADMIN_PASSWORD)
        places = [
            {"code": "34", "name": "省", "parent_code": None, "level": "province"},
            {"code": "3406", "name": "市", "parent_code": "34", "level": "city"},
            {"code": "340621", "name": "县", "parent_code": "3406", "level": "county"},
            {"code": "340621000", "name": "镇", "parent_code": "340621", "level": "township"},
        ]
        assert (await http.put("/api/v1/admin/divisions", json=places, headers=admin)).status_code == 200
        r = await http.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "username": "town",
                "password": PASSWORD,
                "display_name": "乡镇经办人",
                "grants": [{"role": "township_civil_affairs", "division_code": "340621000"}],
            },
        )
        assert r.status_code == 201, r.text
        r = await http.post(
            "/api/v1/admin/api-keys",
            headers=admin,
            json={"name": "portal", "grants": [{"role": "portal", "division_code": "340621"}]},
        )
        assert r.status_code == 201, r.text
        return {"X-API-Key": r.json()["key"]}, await token("town", PASSWORD)


async def verify(dsn: str, load: Load) -> list[str]:
    """Every acknowledged write on the promoted server, and no submission twice."""
    conn = await asyncpg.connect(dsn)
    try:
        problems = []
        ids = list(load.submitted.values())
        found = {
            r["id"] for r in await conn.fetch("SELECT id FROM applications WHERE id = ANY($1::text[])", ids)
        }
        problems += [f"acknowledged submission lost: {i}" for i in ids if i not in found]
        dupes = await conn.fetch(
            "SELECT applicant_id_number, count(*) AS n FROM applications "
            "GROUP BY applicant_id_number HAVING count(*) > 1"
        )
        problems += [f"submitted twice: {d['applicant_id_number']} ×{d['n']}" for d in dupes]
        done = {
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM tasks WHERE id = ANY($1::text[]) AND state = 'completed'",
                list(load.completed | load.ambiguous),
            )
        }
        problems += [f"acknowledged completion lost: {t}" for t in load.completed if t not in done]
        problems += [
            f"completion neither acknowledged nor recorded: {t}" for t in load.ambiguous if t not in done
        ]
        return problems
    finally:
        await conn.close()


async def main() -> int:
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="aidflow-drill-"))
    processes: dict[str, subprocess.Popen] = {}
    primary = standby = None
    try:
        primary, standby = build_pair(root)
        await wait_sync_streaming(primary)
        admin = await asyncpg.connect(primary.dsn())
        await admin.execute("CREATE DATABASE aidflow")
        await admin.close()
        url = (
            f"postgresql://postgres@/aidflow?host=127.0.0.1:{primary.port}&host=127.0.0.1:{standby.port}"
            f"&target_session_attrs=read-write"
        )
        print(f"AIDFLOW_DATABASE_URL={url}", flush=True)
        env = {
            **os.environ,
            "AIDFLOW_DATABASE_URL": url,
            "AIDFLOW_ENV": os.environ.get("DRILL_ENV", "production"),
            "AIDFLOW_SECRET_KEY": "drill-" + "x" * 40,
            "AIDFLOW_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "AIDFLOW_LOG_LEVEL": "WARNING",
            "AIDFLOW_LOG_JSON": "false",
            "AIDFLOW_WORKER_POLL_SECONDS": "0.5",
        }
        subprocess.run([AIDFLOW, "migrate"], env=env, check=True, capture_output=True)
        bases = []
        for i in range(2):
            port = _free_port()
            processes[f"api{i}"] = subprocess.Popen(
                [AIDFLOW, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
                env=env,
                stdout=open(root / f"api{i}.log", "w"),
                stderr=subprocess.STDOUT,
            )
            bases.append(f"http://127.0.0.1:{port}")
        processes["worker"] = subprocess.Popen(
            [AIDFLOW, "worker"], env=env, stdout=open(root / "worker.log", "w"), stderr=subprocess.STDOUT
        )
        for base in bases:
            for _ in range(300):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        portal, town = await set_up(bases[0])
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        clients = [httpx.AsyncClient(base_url=b, timeout=30, limits=limits) for b in bases]
        load = Load(clients, portal, town)
        t0 = time.monotonic()
        marks: dict[str, float] = {}

        async def failover():
            await asyncio.sleep(KILL_AT)
            os.kill(primary.postmaster_pid(), signal.SIGKILL)
            marks["kill"] = time.monotonic()
            print(
                f"{marks['kill'] - t0:5.1f} s: primary postmaster killed (SIGKILL); "
                f"{len(load.submitted)} submissions acknowledged so far",
                flush=True,
            )
            await asyncio.sleep(PROMOTE_DELAY)
            await asyncio.to_thread(standby.run, "pg_ctl", "-D", str(standby.dir), "-w", "promote")
            marks["promote"] = time.monotonic()
            print(f"{marks['promote'] - t0:5.1f} s: standby promoted", flush=True)

        try:
            await asyncio.gather(load.run(t0 + SECONDS), failover())
        except DrillFailure as exc:
            print(f"FAILED: {exc}")
            return 1
        finally:
            for c in clients:
                await c.aclose()
        problems = await verify(standby.dsn("aidflow"), load)
        dead = [name for name, p in processes.items() if p.poll() is not None]
        problems += [f"service process {name} exited (no restart allowed)" for name in dead]
        # The longest stretch with no write acknowledged (a request in flight may still be answered
        # just after the kill, so "kill to the next answer" would understate the outage).
        acks = sorted([t0, *load.successes])
        outage = max(b - a for a, b in itertools.pairwise(acks))
        window = (max(load.failures) - min(load.failures)) if load.failures else 0.0
        print(
            f"\nfailover drill: {CLIENTS} clients, {SECONDS:.0f} s of load, 2 API replicas + 1 worker, "
            f"promotion {PROMOTE_DELAY:.0f} s after the kill"
        )
        print(
            f"acknowledged: {len(load.submitted)} submissions, {len(load.completed)} completions "
            f"(+{len(load.ambiguous)} completed whose answer was lost, found recorded)"
        )
        print(
            f"unavailability: {outage:.1f} s without any acknowledged write "
            f"(failed attempts spread over {window:.1f} s)"
        )
        print(
            f"requests failed (before a retry succeeded): {len(load.failures)}; requests given up: {load.gave_up}"
        )
        print("failed attempts by answer: " + ", ".join(f"{k} ×{n}" for k, n in load.kinds.most_common()))
        print(f"acknowledged writes lost: {sum('lost' in p for p in problems)}")
        print(f"service processes restarted: 0; still running: {len(processes) - len(dead)}/{len(processes)}")
        print(f"drill took {time.monotonic() - started:.0f} s")
        for p in problems:
            print("PROBLEM:", p)
        if load.gave_up:
            problems.append("a client gave up")
        return 1 if problems else 0
    finally:
        for p in processes.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for cluster in (standby, primary):
            if cluster is not None and (cluster.dir / "postmaster.pid").exists():
                cluster.run("pg_ctl", "-D", str(cluster.dir), "-m", "immediate", "stop", check=False)
        if os.environ.get("DRILL_KEEP"):
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
