"""Profile of the service's own Python per operation: intake, completions, timers (in-process ASGI,
one request at a time, PostgreSQL), so what stands in the way of the speed goals can be named.

Prints milliseconds per operation and the functions that take most of it (cProfile, own time and
cumulative). Run: ``AIDFLOW_TEST_DATABASE_URL=... .venv/bin/python bench/profile_case.py [intake|complete|timers]``.
"""

import asyncio
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_dibao import _id_number, in_process_service, setup

CASES = int(os.environ.get("BENCH_CASES", "300"))
# BENCH_CPROFILE=0: no profiler, only the process's CPU time per operation (client and service are
# this one process; PostgreSQL is not counted), a figure that a busy machine barely moves.
CPROFILE = os.environ.get("BENCH_CPROFILE", "1") != "0"
TOP = int(os.environ.get("BENCH_TOP", "35"))


class _Profile(cProfile.Profile):
    """cProfile, or with BENCH_CPROFILE=0 a CPU-time stopwatch."""

    def enable(self):
        self.cpu = time.process_time()
        if CPROFILE:
            super().enable()

    def disable(self):
        if CPROFILE:
            super().disable()
        self.cpu = time.process_time() - getattr(self, "cpu", time.process_time())


def _report(title: str, profile: "_Profile", count: int, seconds: float) -> None:
    print(
        f"\n=== {title}: {count} in {seconds:.2f} s = {seconds / count * 1000:.2f} ms each, "
        f"{profile.cpu / count * 1000:.2f} ms CPU ==="
    )
    if not CPROFILE:
        return
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(TOP)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])


async def _run(client: httpx.AsyncClient, only: str | None) -> None:
    admin, town, _county, portal = await setup(client, townships=1)
    case_tasks: dict[str, str] = {}
    profile = _Profile()
    started = time.perf_counter()
    if only in (None, "intake"):
        profile.enable()
    for i in range(CASES):
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
    profile.disable()
    if only in (None, "intake"):
        _report("intake (POST /applications)", profile, CASES, time.perf_counter() - started)
    for step, data in (
        ("accept", {"decision": "accept"}),
        ("review", {"decision": "approve", "opinion": "属实"}),
    ):
        profile, started = _Profile(), time.perf_counter()
        if only in (None, "complete"):
            profile.enable()
        for app_id, task_id in list(case_tasks.items()):
            r = await client.post(f"/api/v1/tasks/{task_id}/complete", headers=town, json={"data": data})
            assert r.status_code == 200, r.text
            nxt = r.json()["next_tasks"]
            if nxt:
                case_tasks[app_id] = nxt[0]["id"]
        profile.disable()
        if only in (None, "complete"):
            _report(f"completions ({step})", profile, CASES, time.perf_counter() - started)
    await client.post("/api/v1/admin/clock", headers=admin, json={"advance_seconds": 8 * 86400})
    profile, started = _Profile(), time.perf_counter()
    if only in (None, "timers"):
        profile.enable()
    fired = (await client.post("/api/v1/admin/timers/run", headers=admin)).json()["fired"]
    profile.disable()
    if only in (None, "timers"):
        _report(
            "notice timers fired (one worker round)", profile, max(fired, 1), time.perf_counter() - started
        )


async def main() -> None:
    async with in_process_service() as (client, _url, _baseline):
        await _run(client, sys.argv[1] if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    asyncio.run(main())
