"""``BENCH_ONLY=reports bench/bench_service.py``: report latency over real HTTP for a province whose
rollups hold 1,000,000 cases (issue 21 item 5).

The figures are generated in SQL, not by running a million cases: 16 cities × 8 counties × 12
townships (1,536 townships), 12 months of 2026, 3 programs, every case and money metric, three steps'
time figures and their working-day histograms (eight buckets of days each) per township, month and
program — the rollup rows a million cases spread over a province would leave — plus
BENCH_REPORT_DELTAS deltas not yet folded (a worker that is behind). Then each report is
asked for over HTTP through the replicas and timed; the run is appended to bench/RESULTS.md.
"""

import os
import subprocess
import time
from datetime import UTC, datetime

import asyncpg
import httpx

from bench import bench_service as bench

CASES = 1_000_000
PENDING_DELTAS = int(os.environ.get("BENCH_REPORT_DELTAS", "20000"))
CITIES, COUNTIES, TOWNSHIPS = 16, 8, 12
PROGRAMS = ("dibao", "linshi", "tekun")
STEPS = ("accept_application", "initial_review", "county_confirm")
# (name, who, path, query, requests)
REPORTS = (
    ("province_summary", "admin", "summary", {"place": "34", "from": "2026-01", "to": "2026-12"}, 30),
    (
        "province_summary_dibao",
        "admin",
        "summary",
        {"place": "34", "program": "dibao", "from": "2026-01"},
        30,
    ),
    ("province_by_city", "admin", "by-place", {"place": "34", "from": "2026-01", "to": "2026-12"}, 30),
    ("city_by_county", "city", "by-place", {"place": "3401", "from": "2026-01", "to": "2026-12"}, 30),
    ("county_by_township", "county", "by-place", {"place": "340101", "from": "2026-01", "to": "2026-12"}, 30),
    (
        "county_summary_one_month",
        "county",
        "summary",
        {"place": "340101", "from": "2026-06", "to": "2026-06"},
        30,
    ),
    ("province_steps", "admin", "steps", {"place": "34", "from": "2026-01", "to": "2026-12"}, 30),
    ("province_monthly_dibao", "admin", "monthly/dibao", {"place": "34", "month": "2026-12"}, 30),
    (
        "city_by_county_xlsx",
        "city",
        "by-place.xlsx",
        {"place": "3401", "from": "2026-01", "to": "2026-12"},
        10,
    ),
)


async def _generate(conn: asyncpg.Connection) -> int:
    """Places in SQL, then the rollup rows; returns the number of rollup rows."""
    await conn.execute(f"""
        INSERT INTO divisions (code, name, level, parent_code, path) VALUES ('34', '省', 'province', NULL, '/34/');
        INSERT INTO divisions (code, name, level, parent_code, path)
        SELECT '34' || lpad(c::text, 2, '0'), '市' || c, 'city', '34', '/34/34' || lpad(c::text, 2, '0') || '/'
        FROM generate_series(1, {CITIES}) c;
        INSERT INTO divisions (code, name, level, parent_code, path)
        SELECT d.code || lpad(k::text, 2, '0'), '县' || k, 'county', d.code, d.path || d.code || lpad(k::text, 2, '0') || '/'
        FROM divisions d, generate_series(1, {COUNTIES}) k WHERE d.level = 'city';
        INSERT INTO divisions (code, name, level, parent_code, path)
        SELECT d.code || lpad(t::text, 3, '0'), '镇' || t, 'township', d.code,
               d.path || d.code || lpad(t::text, 3, '0') || '/'
        FROM divisions d, generate_series(1, {TOWNSHIPS}) t WHERE d.level = 'county';
    """)
    cells = CITIES * COUNTIES * TOWNSHIPS * 12 * len(PROGRAMS)
    base, extra = divmod(CASES, cells)
    case_metrics = (
        "('received', r), ('approved', r * 6 / 10), ('refused', r / 5), ('withdrawn', r / 20),"
        " ('terminated', r / 30), ('objections_received', r / 25), ('notices_opened', r * 8 / 10),"
        " ('notices_closed', r * 8 / 10), ('accepted', r * 9 / 10), ('objections_upheld', r / 100),"
        " ('enrolments_started', r / 2), ('enrolments_ended', r / 10)"
    )
    # (metric, count, amount): money per township and month.
    money_metrics = "('amount_scheduled', r / 2, r * 300), ('amount_paid', r / 2, r * 290)"
    step_metrics = ", ".join(
        f"('step_done:{s}', r), ('step_timed:{s}', r), ('step_on_time:{s}', r * 9 / 10)" for s in STEPS
    )
    # Working days taken: eight buckets per step (0–5, 8, 13 days), shares adding up to the steps done.
    day_metrics = ", ".join(
        f"('step_days:{s}:{d}', r * {w} / 100)"
        for s in STEPS
        for d, w in ((0, 20), (1, 15), (2, 15), (3, 15), (4, 10), (5, 10), (8, 10), (13, 5))
    )
    await conn.execute(f"""
        INSERT INTO report_rollups (grain, place_path, month, program, metric, count, amount)
        SELECT 4, cell.path, cell.month, cell.program, m.metric, m.n, 0
        FROM (
            SELECT d.path, make_date(2026, mo, 1) AS month, p AS program,
                   {base} + (row_number() OVER () <= {extra})::int AS r
            FROM divisions d, generate_series(1, 12) mo, unnest(ARRAY{list(PROGRAMS)}) p
            WHERE d.level = 'township'
        ) cell,
        LATERAL (VALUES {case_metrics}, {step_metrics}, {day_metrics}) AS m(metric, n);
        INSERT INTO report_rollups (grain, place_path, month, program, metric, count, amount)
        SELECT 4, cell.path, cell.month, cell.program, m.metric, m.n, m.a
        FROM (
            SELECT d.path, make_date(2026, mo, 1) AS month, p AS program, {base} AS r
            FROM divisions d, generate_series(1, 12) mo, unnest(ARRAY{list(PROGRAMS)}) p
            WHERE d.level = 'township'
        ) cell,
        LATERAL (VALUES {money_metrics}) AS m(metric, n, a);
        INSERT INTO report_rollups (grain, place_path, month, program, metric, count, amount)
        SELECT 2, '/' || split_part(place_path, '/', 2) || '/' || split_part(place_path, '/', 3) || '/',
               month, program, metric, sum(count), sum(amount)
        FROM report_rollups WHERE grain = 4 GROUP BY 2, 3, 4, 5;
        INSERT INTO report_rollups (grain, place_path, month, program, metric, count, amount)
        SELECT 3, '/' || split_part(place_path, '/', 2) || '/' || split_part(place_path, '/', 3) || '/'
                  || split_part(place_path, '/', 4) || '/',
               month, program, metric, sum(count), sum(amount)
        FROM report_rollups WHERE grain = 4 GROUP BY 2, 3, 4, 5
    """)
    await conn.execute(f"""
        INSERT INTO report_deltas (month, program, place_path, metric, count, amount)
        SELECT make_date(2026, 1 + g % 12, 1), 'dibao', d.path, 'received', 1, 0
        FROM generate_series(1, {PENDING_DELTAS}) g
        JOIN divisions d ON d.level = 'township' AND d.code = '34' || lpad((1 + g % {CITIES})::text, 2, '0')
             || lpad((1 + g % {COUNTIES})::text, 2, '0') || lpad((1 + g % {TOWNSHIPS})::text, 3, '0')
    """)
    await conn.execute("ANALYZE divisions; ANALYZE report_rollups; ANALYZE report_deltas")
    return await conn.fetchval("SELECT count(*) FROM report_rollups")


async def run(clients: list[httpx.AsyncClient], url: str, processes: bench.Processes) -> dict:
    service = bench._Service(clients)
    service.admin = await service.token("admin", bench.ADMIN_PASSWORD)
    conn = await asyncpg.connect(url)
    try:
        figures: dict = {"rollup_rows": await _generate(conn)}
    finally:
        await conn.close()
    for username, role, code in (
        ("city", "city_civil_affairs", "3401"),
        ("county", "county_civil_affairs", "340101"),
    ):
        r = await service.first.post(
            "/api/v1/admin/users",
            headers=service.admin,
            json={
                "username": username,
                "password": bench.PASSWORD,
                "display_name": username,
                "grants": [{"role": role, "division_code": code}],
            },
        )
        assert r.status_code == 201, r.text
        setattr(service, username, await service.token(username, bench.PASSWORD))
    for name, who, path, params, n in REPORTS:
        headers = getattr(service, who)
        for _ in range(2):  # warm-up on each replica
            await service.client().get(f"/api/v1/reports/{path}", headers=headers, params=params)
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            r = await service.client().get(f"/api/v1/reports/{path}", headers=headers, params=params)
            lat.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
        figures[name] = lat
        if name == "province_summary":
            figures["received"] = r.json()["received"]
    return figures


def report(figures: dict) -> None:
    commit = (
        subprocess.run(
            ["git", "-C", str(bench.ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    load = os.getloadavg()[0]
    print(
        f"{figures['rollup_rows']:,} rollup rows, {PENDING_DELTAS:,} pending deltas; "
        f"province received {figures['received']:,}; load {load:.1f}"
    )
    cells = []
    for name, *_ in REPORTS:
        p50, p99 = bench._pct(figures[name], 0.5), bench._pct(figures[name], 0.99)
        print(
            f"{name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms (goal < 1000 ms: {'met' if p99 < 1000 else 'NOT met'})"
        )
        cells.append(f"{p50:.0f} / {p99:.0f}")
    results = bench.ROOT / "bench" / "RESULTS.md"
    text = results.read_text()
    header = (
        "\n## `BENCH_ONLY=reports bench/bench_service.py` runs (reports over real HTTP, p50 / p99 ms; goal < 1 s)\n\n"
        "| when (UTC) | commit | machine | cases in the rollups | rollup rows | pending deltas | "
        + " | ".join(name for name, *_ in REPORTS)
        + " |\n|"
        + "---|" * (6 + len(REPORTS))
        + "\n"
    )
    if header.strip() not in text:
        text = text.rstrip("\n") + "\n" + header
    row = [
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        commit,
        f"{os.cpu_count()} cores, load {load:.1f}, {bench.REPLICAS} replicas",
        f"{figures['received']:,}",
        f"{figures['rollup_rows']:,}",
        f"{PENDING_DELTAS:,}",
        *cells,
    ]
    results.write_text(text.rstrip("\n") + "\n| " + " | ".join(row) + " |\n")
