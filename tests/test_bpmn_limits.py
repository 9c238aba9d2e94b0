"""Every BPMN expression and script finishes or fails within a hard bound, and the service keeps
answering meanwhile: conditions in the bounded evaluator (sizes checked before each operation),
scripts in rlimited worker processes (issue 15, finding 8)."""

import asyncio
import os
import signal
import statistics
import subprocess
import threading
import time

import httpx
import pytest

from app import sandbox, script_pool
from tests.helpers import Api
from tests.live import free_port, wait_until_up
from tests.time_travel import command

LIMITS_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d">
  <bpmn:process id="KEY" name="limits" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="starters" value="portal" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="township_civil_affairs">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>check</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>compute</bpmn:flowNodeRef><bpmn:flowNodeRef>gw</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>yes</bpmn:flowNodeRef><bpmn:flowNodeRef>no</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s" />
    <bpmn:userTask id="check" name="check" />
    <bpmn:scriptTask id="compute"><bpmn:script>SCRIPT</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" default="f5" />
    <bpmn:endEvent id="yes"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="outcome" value="approved" />
    </spiffworkflow:properties></bpmn:extensionElements></bpmn:endEvent>
    <bpmn:endEvent id="no"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="outcome" value="refused" />
    </spiffworkflow:properties></bpmn:extensionElements></bpmn:endEvent>
    FLOWS
  </bpmn:process>
</bpmn:definitions>"""
# The script and the condition run when the human step "check" completes, or as the case starts.
ORDERS = {
    "complete": [
        ("f1", "s", "check"),
        ("f2", "check", "compute"),
        ("f3", "compute", "gw"),
        ("f4", "gw", "yes"),
        ("f5", "gw", "no"),
    ],
    "start": [
        ("f1", "s", "compute"),
        ("f3", "compute", "gw"),
        ("f4", "gw", "yes"),
        ("f5", "gw", "check"),
        ("f2", "check", "no"),
    ],
}


def limits_process(
    key: str,
    script: str = "total = household_size * 300",
    condition: str = "total > 500",
    order: str = "complete",
) -> bytes:
    def xml(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    flows = "".join(
        f'<bpmn:sequenceFlow id="{flow}" sourceRef="{source}" targetRef="{target}">'
        + (f"<bpmn:conditionExpression>{xml(condition)}</bpmn:conditionExpression>" if flow == "f4" else "")
        + "</bpmn:sequenceFlow>\n"
        for flow, source, target in ORDERS[order]
    )
    return LIMITS_PROCESS.replace("KEY", key).replace("SCRIPT", xml(script)).replace("FLOWS", flows).encode()


# What issue 15 measured: a loop the tracer never saw, a C-level power that held every request
# for 68 s, and 1.8 GB taken by one request. The loops are written so no upload check sees them.
CPU_LOOP = "n = 0\nwhile n >= 0:\n    n += 1"
MEMORY_LOOP = "kept = []\nwhile len(kept) >= 0:\n    kept.append('a' * 100000)"
POWER = "((((10**64)**64)**64)**64 > 0)"
MEMORY_BOMB = 'len("a"*(10**9)) + len([0]*(10**8)) > 0'
ATTACKS = [
    ("cpu_loop", {"script": CPU_LOOP}),
    ("memory_loop", {"script": MEMORY_LOOP}),
    ("power", {"condition": POWER}),
    ("memory_bomb", {"condition": MEMORY_BOMB}),
    ("script_power", {"script": f"big = {POWER}"}),
]


# --- the evaluator, directly ------------------------------------------------------------------


def test_expressions_refuse_what_would_explode_before_it_runs():
    bombs = [
        POWER,
        MEMORY_BOMB,
        "1 << 10**9 > 0",
        "str([[0] * 1000] * 1000)",
        "len(str([x] * 1000))",
        "'a' * 60000 + 'a' * 60000",
    ]
    started = time.process_time()
    for source in bombs:
        sandbox.compile_expression(
            source
        )  # passes the upload checks: the operands are only known at run time
        with pytest.raises(sandbox.LimitExceeded):
            sandbox.evaluate(source, {"x": ["y" * 1000] * 10, "decision": "approve"})
    with pytest.raises(sandbox.ExpressionError, match="numbers only"):  # no quadratic list concatenation
        sandbox.evaluate("sum([[0] * 100] * 100, [])", {})
    with pytest.raises(sandbox.ExpressionError, match="formatting"):  # '%0999999999d' would be a gigabyte
        sandbox.evaluate("'%0999999999d' % 1", {})
    assert time.process_time() - started < 0.5
    # No loops, no code that builds big values from small ones: refused when the file is uploaded.
    for source in [
        "[c for c in range(1000)]",
        "sum(x for x in range(1000))",
        "(lambda: 1)()",
        "f'{decision:>99999999}'",
        "(y := 1)",
        "decision.ljust(10**9)",
        "','.join(['a'] * 10)",
        "decision.replace('a', 'aaaa')",
        " + ".join(["1"] * 500),
    ]:
        with pytest.raises(sandbox.ExpressionError):
            sandbox.compile_expression(source)
    # What the shipped processes write still works.
    data = {
        "decision": "approve",
        "amount": 800,
        "settings": {"family_year_cap": 5000, "township_limit": 1000},
        "place": {"levels": ["county", "university"]},
        "family_year_total": lambda: 1000,
    }
    assert sandbox.evaluate('decision == "approve" and amount <= settings["township_limit"]', data) is True
    assert sandbox.evaluate('family_year_total() + amount <= settings["family_year_cap"]', data) is True
    assert sandbox.evaluate('"university" in place["levels"]', data) is True
    assert sandbox.evaluate("amount ** 2 + 10 ** 64 > 0 and 'ab' * 3 == 'ababab'", data) is True


def test_the_sandbox_refuses_classic_escapes_directly(tmp_path):
    from tests.test_bpmn_safety import ESCAPES, RUNS_AND_FAILS

    marker = tmp_path / "ran"
    # Refused before running (ExpressionError), or run without the name it needs (NameError).
    expected = {
        source.decode(): NameError if source in RUNS_AND_FAILS else sandbox.ExpressionError
        for source in ESCAPES
    }
    expected[f"open('{marker}', 'w')"] = NameError
    for source, error in expected.items():
        with pytest.raises(error) as caught:
            sandbox.evaluate(source, {"decision": "approve"})
        assert caught.type is error, (source, caught.value)
    assert not marker.exists()
    with pytest.raises(sandbox.ExpressionError, match="never ends"):
        sandbox.compile_script("while True:\n    pass")
    assert script_pool.run("amount = household_size * 300\nbig = amount > 500", {"household_size": 3}) == {
        "amount": 900,
        "big": True,
    }


def test_script_workers_stop_runaway_scripts_and_live_on():
    for script, message in [
        (CPU_LOOP, "CPU time"),
        (MEMORY_LOOP, "MB"),
        (f"big = {POWER}", "limit"),
        ("x = 'a' * 10**9", "limit"),
    ]:
        started = time.monotonic()
        with pytest.raises(sandbox.LimitExceeded, match=message):
            script_pool.run(script, {})
        assert time.monotonic() - started < script_pool.WALL_SECONDS + 1
    # A script's own error is an error, not a limit; the worker lives on.
    with pytest.raises(sandbox.ExpressionError, match="NameError") as caught:
        script_pool.run("x = missing + 1", {})
    assert not isinstance(caught.value, sandbox.LimitExceeded)
    # What no signal can interrupt is killed by the wall clock, and the worker is replaced.
    before = set(script_pool.worker_pids())
    wall = script_pool.WALL_SECONDS
    script_pool.WALL_SECONDS = 0.3
    try:
        with pytest.raises(sandbox.LimitExceeded, match=r"did not finish within 0\.3 s"):
            script_pool.run(CPU_LOOP, {})
    finally:
        script_pool.WALL_SECONDS = wall
    assert script_pool.run("y = x * 2", {"x": 21}) == {"y": 42}
    assert set(script_pool.worker_pids()) != before
    # The data goes in and out as JSON; what a script changes in place comes back.
    assert script_pool.run(
        "items.append(3)\nitems_total = sum(items)", {"items": [1, 2], "other": "same"}
    ) == {"items": [1, 2, 3], "items_total": 6}


# --- through the API, on both databases ---------------------------------------------------------


async def _upload(api: Api, content: bytes):
    return await api.client.post(
        "/api/v1/process-definitions",
        files={"file": ("x.bpmn", content, "application/xml")},
        headers=api.headers["admin"],
    )


async def _health_while(api: Api, work) -> tuple[object, list[float]]:
    """Run ``work`` while asking /healthz every 20 ms; its result and every health answer's time."""
    latencies: list[float] = []
    done = asyncio.Event()

    async def poll():
        while not done.is_set():
            started = time.perf_counter()
            r = await api.client.get("/healthz")
            assert r.status_code == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)

    poller = asyncio.create_task(poll())
    try:
        result = await work
    finally:
        done.set()
        await poller
    return result, latencies


async def test_runaway_code_fails_the_step_and_the_service_keeps_answering(api: Api):
    r = await _upload(api, limits_process("limits_loop", script="while True:\n    pass"))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid_expression"
    assert "never ends" in r.json()["errors"][0]["message"]

    for name, parts in ATTACKS:
        key = f"limits_{name}"
        assert (await _upload(api, limits_process(key, **parts))).status_code == 201, name
        case = await api.apply(program=key, data={"household_size": 3})
        task = case["open_tasks"][0]
        before = await api.application(case["id"])
        started = time.monotonic()
        r, latencies = await _health_while(
            api, api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {}})
        )
        elapsed = time.monotonic() - started
        assert r.status_code == 422, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "script_limit_exceeded", (name, r.json())
        assert elapsed < script_pool.WALL_SECONDS + 3, (name, elapsed)
        # The event loop never waited on the attack (before: 1 s to forever, every answer). Generous
        # for a busy CI machine, where another process may take a core for a moment: the first answer
        # shares the loop with the completion's own work (and a worker's start), so it gets 1 s; of the
        # later ones, nine in ten within 0.25 s and none over 1 s.
        assert latencies and statistics.median(latencies) < 0.05, (name, latencies)
        later = sorted(latencies[1:])
        ninth_decile = later[max(0, int(len(later) * 0.9) - 1)] if later else 0
        assert latencies[0] < 1.0 and ninth_decile < 0.25 and max(later, default=0) < 1.0, (name, latencies)
        # Nothing changed: the step is still open, the case where it was.
        after = await api.application(case["id"])
        assert after == before and [t["id"] for t in after["open_tasks"]] == [task["id"]], name

    # The same process with ordinary code completes, and its script's result reaches the gateway.
    assert (await _upload(api, limits_process("limits_fine"))).status_code == 201
    case = await api.apply(program="limits_fine", data={"household_size": 3})
    done = await api.complete("town_a", case["open_tasks"][0]["id"], {})
    assert done["application"]["status"] == "approved"


async def test_a_runaway_script_at_start_creates_no_application(api: Api):
    assert (
        await _upload(api, limits_process("limits_start", script=CPU_LOOP, order="start"))
    ).status_code == 201
    before = await api.count("applications")
    r = await api.post(
        "portal",
        "/applications",
        {
            "program": "limits_start",
            "division_code": "340621100201",
            "applicant": {"name": "x", "id_number": "11010519491231002X"},
            "data": {"household_size": 3},
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "script_limit_exceeded", r.text
    assert "CPU time" in r.json()["detail"] and "compute" in r.json()["detail"]
    assert await api.count("applications") == before


# --- a real server: health, memory and SIGTERM during attacks --------------------------------------


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def test_a_live_server_stays_responsive_small_and_stoppable_under_attack(tmp_path):
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'limits.db'}",
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_STORAGE_DIRECTORY": str(tmp_path / "materials"),  # the demo's documents
    }
    env.pop("AIDFLOW_ENV", None)
    for args in (("migrate",), ("demo",)):
        done = subprocess.run(command("aidflow", *args), env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    key = next(line.split("X-API-Key: ")[1] for line in done.stdout.splitlines() if "X-API-Key" in line)
    port = free_port()
    server = subprocess.Popen(
        command("aidflow", "serve", "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server)
        admin = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "admin", "password": "aidflow-demo"}
        ).json()
        headers = {"Authorization": f"Bearer {admin['access_token']}"}
        # The script and the condition run as the case starts: the portal's application is the attack.
        for name, parts in ATTACKS:
            r = httpx.post(
                f"{base}/api/v1/process-definitions",
                headers=headers,
                files={
                    "file": (
                        "x.bpmn",
                        limits_process(f"live_{name}", order="start", **parts),
                        "application/xml",
                    )
                },
            )
            assert r.status_code == 201, (name, r.text)

        def attack(name: str, results: list):
            results.append(
                httpx.post(
                    f"{base}/api/v1/applications",
                    headers={"X-API-Key": key},
                    timeout=30,
                    json={
                        "program": f"live_{name}",
                        "division_code": "340621100201",
                        "data": {"household_size": 3},
                        "applicant": {"name": "x", "id_number": "11010519491231002X"},
                    },
                )
            )

        latencies, answers = [], []
        health = httpx.Client(base_url=base, timeout=5)
        for name, _ in ATTACKS:
            results: list = []
            thread = threading.Thread(target=attack, args=(name, results))
            started = time.monotonic()
            thread.start()
            while thread.is_alive():
                t0 = time.perf_counter()
                assert health.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - t0)
                time.sleep(0.02)
            thread.join()
            answers.append(
                (name, results[0].status_code, results[0].json().get("code"), time.monotonic() - started)
            )
        assert all(
            status == 422 and code == "script_limit_exceeded" and took < script_pool.WALL_SECONDS + 3
            for _, status, code, took in answers
        ), answers
        print(
            f"health during attacks: {len(latencies)} answers, median {statistics.median(latencies) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms; attacks {answers}; server peak RSS {_peak_rss_mb(server.pid):.0f} MB"
        )
        assert statistics.median(latencies) < 0.05, latencies
        assert latencies[0] < 1.0 and max(latencies[1:], default=0) < 0.25, latencies
        # The memory bombs went nowhere near the service's own process (they took 1.8 GB before).
        assert _peak_rss_mb(server.pid) < 400, _peak_rss_mb(server.pid)

        # SIGTERM stops the server even while a script is looping in a worker.
        workers = _children(server.pid)
        assert workers, "the script workers are the server's children"
        thread = threading.Thread(target=lambda: attack("cpu_loop", []), daemon=True)
        thread.start()
        time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        deadline = time.monotonic() + 10
        while any(_state(pid) not in ("Z", "gone") for pid in workers):
            assert time.monotonic() < deadline, "script workers outlived the server"
            time.sleep(0.1)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
