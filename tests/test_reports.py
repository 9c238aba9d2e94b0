"""Reports (docs/reports.md): figures per place, program and month over real HTTP, on both databases,
checked against counts worked out by hand from the story below; who may not read them; folding and a
rebuild from the trail leave every figure as it was."""

import asyncio
import csv
import io
from datetime import date

import sqlalchemy as sa

from app.db.engine import create_engine, transaction
from app.db.models import report_deltas, report_rollups
from app.domain.reports import rollups
from tests.helpers import VILLAGE_A, VILLAGE_B, Api

REVIEW = {"decision": "approve", "opinion": "情况属实"}
CONFIRM = {"decision": "approve", "opinion": "同意纳入", "monthly_amount": 580, "dibao_class": "B"}
ZERO = {
    "received": 0,
    "accepted": 0,
    "approved": 0,
    "refused": 0,
    "withdrawn": 0,
    "terminated": 0,
    "objections_received": 0,
    "objections_upheld": 0,
    "notices_opened": 0,
    "notices_closed": 0,
    "in_notice": 0,
    "enrolments_started": 0,
    "enrolments_ended": 0,
    "enrolments_active": 0,
    "monthly_amount_active": 0.0,
    "payments_scheduled": 0,
    "amount_scheduled": 0.0,
    "payments_paid": 0,
    "amount_paid": 0.0,
}
# A's enrolment: 580 yuan a month from December.
ENROLLED = {"enrolments_started": 1, "enrolments_active": 1, "monthly_amount_active": 580.0}


async def _story(api: Api) -> None:
    """Four 低保 cases in 濉溪县 (Monday 23 November 2026):
    A (东关村 → 濉溪镇): accepted, reviewed on time, 7-day notice, confirmed by the county → approved (Nov).
    B (临涣村 → 临涣镇): accepted, reviewed on time, objection in the notice → re-investigation left open.
    C (东关村): accepted; its review, due 7 December, is done late on 9 December → notice opens (Dec).
    D (东关村): withdrawn by the portal on 9 December before anyone accepted it."""
    await api.set_clock("2026-11-23T09:00:00+08:00")
    a, b = await api.apply(), await api.apply(division_code=VILLAGE_B)
    c, d = await api.apply(division_code=VILLAGE_A), await api.apply(division_code=VILLAGE_A)
    await api.to_notice(a["id"])
    await api.step("town_b", b["id"], "accept_application", {"decision": "accept"})
    await api.step("town_b", b["id"], "initial_review", REVIEW)
    await api.message("objection", b["id"], {"reason": "家中有经营性收入", "contact": "13700000000"})
    await api.open_task(b["id"], "reinvestigate")
    await api.step("town_a", c["id"], "accept_application", {"decision": "accept"})

    await api.advance(days=7)  # Monday 30 November: A's notice is over
    assert await api.run_timers() >= 1
    await api.step("county", a["id"], "county_confirm", CONFIRM)
    assert (await api.application(a["id"]))["status"] == "approved"

    await api.set_clock("2026-12-09T10:00:00+08:00")
    await api.step("town_a", c["id"], "initial_review", REVIEW)
    r = await api.post("portal", f"/applications/{d['id']}/withdraw", {"reason": "申请人主动撤回"})
    assert r.status_code == 200, r.text


def _steps(**figures: tuple) -> list[dict]:
    """(done, timed, on time, share, median working days, p90 working days) per step."""
    return [
        {
            "step": name,
            "done": done,
            "timed": timed,
            "on_time": on_time,
            "on_time_share": share,
            "median_days": median,
            "p90_days": p90,
        }
        for name, (done, timed, on_time, share, median, p90) in sorted(figures.items())
    ]


async def _report(api: Api, who: str, path: str, **params) -> dict:
    r = await api.get(who, f"/reports/{path}", **params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_figures_by_place_and_month_and_who_may_read_them(api: Api):
    await _story(api)

    province = await _report(
        api, "admin", "summary", place="34", program="dibao", **{"from": "2026-11"}, to="2026-12"
    )
    assert province == {
        "place": {"code": "34", "name": "安徽省"},
        "program": "dibao",
        "from": "2026-11",
        "to": "2026-12",
        **ZERO,
        **ENROLLED,
        "received": 4,
        "accepted": 3,  # D was withdrawn before anyone accepted it
        "approved": 1,
        "withdrawn": 1,
        "objections_received": 1,
        "notices_opened": 3,
        "notices_closed": 2,
        "in_notice": 1,  # C's, opened 9 December
        # C's review took 12 working days (24 November to 9 December), the others' none.
        "steps": _steps(
            accept_application=(3, 0, 0, None, 0, 0),
            county_confirm=(1, 1, 1, 1.0, 0, 0),
            initial_review=(3, 3, 2, 0.6667, 0, 12),
        ),
        "overdue_now": 1,  # B's re-investigation, due 7 December
    }
    november = await _report(api, "county", "summary", place="340621", **{"from": "2026-11"}, to="2026-11")
    assert {k: november[k] for k in (*ZERO, "overdue_now")} == {
        **ZERO,
        **ENROLLED,
        "received": 4,
        "accepted": 3,
        "approved": 1,
        "objections_received": 1,
        "notices_opened": 2,
        "notices_closed": 2,
        "overdue_now": 1,
    }
    assert november["steps"][2] == _steps(initial_review=(2, 2, 2, 1.0, 0, 0))[0]
    other_program = await _report(
        api, "admin", "summary", place="34", program="linshi", **{"from": "2026-11"}, to="2026-12"
    )
    assert other_program["received"] == 0 and other_program["steps"] == []

    county = await _report(api, "county", "by-place", place="340621", **{"from": "2026-11"}, to="2026-12")
    by_code = {p["code"]: p for p in county["places"]}
    assert list(by_code) == ["340621100", "340621101"]
    assert {k: by_code["340621100"][k] for k in (*ZERO, "overdue_now")} == {
        **ZERO,
        **ENROLLED,
        "received": 3,
        "accepted": 2,
        "approved": 1,
        "withdrawn": 1,
        "notices_opened": 2,
        "notices_closed": 1,
        "in_notice": 1,
        "overdue_now": 0,
    }
    assert by_code["340621100"]["name"] == "濉溪镇"
    assert {k: by_code["340621101"][k] for k in (*ZERO, "overdue_now")} == {
        **ZERO,
        "received": 1,
        "accepted": 1,
        "objections_received": 1,
        "notices_opened": 1,
        "notices_closed": 1,
        "overdue_now": 1,
    }
    # The same table as CSV, opened as a spreadsheet would: Chinese headers, the API's values.
    r = await api.get("county", "/reports/by-place.csv", place="340621", **{"from": "2026-11"}, to="2026-12")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:22] == [
        "地区代码",
        "地区",
        "收到申请",
        "受理",
        "批准",
        "不予批准",
        "撤销",
        "终止",
        "收到异议",
        "异议成立",
        "开始公示",
        "结束公示",
        "公示中",
        "新增享受",
        "停止享受",
        "期末在册",
        "期末月发放标准合计（元）",
        "计划发放笔数",
        "计划发放金额（元）",
        "已发放笔数",
        "已发放金额（元）",
        "当前超期待办",
    ]
    # The county's own confirmation counts at the county, not in a township's row.
    assert table[0][22:] == [
        f"{step} {figure}"
        for step in ("accept_application", "initial_review")
        for figure in ("办结", "按时率", "用时中位数（工作日）", "用时90%分位（工作日）")
    ]
    figures_a = ["3", "2", "1", "0", "1", "0", "0", "0", "2", "1", "1", "1", "0", "1", "580.00"]
    assert table[1] == [
        "340621100",
        "濉溪镇",
        *figures_a,
        "0",
        "0.00",
        "0",
        "0.00",
        "0",
        *("2", "", "0", "0"),
        *("2", "50.00%", "0", "12"),
    ]
    figures_b = ["1", "1", "0", "0", "0", "0", "1", "0", "1", "1", "0", "0", "0", "0", "0.00"]
    assert table[2] == [
        "340621101",
        "临涣镇",
        *figures_b,
        "0",
        "0.00",
        "0",
        "0.00",
        "1",
        *("1", "", "0", "0"),
        *("1", "100.00%", "0", "0"),
    ]
    city = await _report(api, "admin", "by-place", place="3406", **{"from": "2026-11"}, to="2026-12")
    assert [(p["code"], p["received"], p["overdue_now"]) for p in city["places"]] == [
        ("340621", 4, 1),
        ("340622", 0, 0),
    ]
    # A township sees its own figures, by default its own place.
    own = await _report(api, "town_a", "summary", **{"from": "2026-11"}, to="2026-12")
    assert own["place"]["code"] == "340621100" and own["received"] == 3 and own["withdrawn"] == 1

    r = await api.get("town_a", "/reports/by-place")  # nothing is kept below a township
    assert r.status_code == 422 and r.json()["code"] == "report_place_too_low"
    # Who may not: another county, a township asking about its county, a portal key, a stranger.
    for who, place in (
        ("other_county", "340621"),
        ("town_a", "340621"),
        ("town_b", "340621100"),
        ("portal", "340621"),
    ):
        for path in ("summary", "by-place", "by-place.csv"):
            r = await api.get(who, f"/reports/{path}", place=place)
            assert r.status_code == 403, (who, path, r.text)
            assert r.json()["code"] == "report_not_allowed"
    for path in ("summary", "by-place", "by-place.csv"):
        assert (await api.client.get(f"/api/v1/reports/{path}", params={"place": "34"})).status_code == 401
    # Bad input: unknown place, a place below the grain, months that are no months or run backwards.
    for params, status, code in (
        ({"place": "99"}, 404, "division_not_found"),
        ({"place": VILLAGE_A}, 422, "report_place_too_low"),
        ({"place": "34", "from": "2026-13"}, 422, "invalid_month"),
        ({"place": "34", "from": "2026-12", "to": "2026-11"}, 422, "invalid_period"),
    ):
        r = await api.get("admin", "/reports/summary", **params)
        assert r.status_code == status and r.json()["code"] == code, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await api.get("admin", "/reports/summary", place="34", to="November")
    assert r.status_code == 422


async def _rollup_rows(url: str) -> list[tuple]:
    db = create_engine(url)
    try:
        async with db.connect() as conn:
            rows = await conn.execute(sa.select(report_rollups).order_by(*report_rollups.primary_key.columns))
            return [tuple(row) for row in rows]
    finally:
        await db.dispose()


async def test_folding_and_rebuilding_change_no_figure(api: Api):
    await _story(api)
    params = {"place": "34", "from": "2026-11", "to": "2026-12"}
    before = (
        await _report(api, "admin", "summary", **params),
        await _report(api, "admin", "by-place", **params),
    )
    assert await api.count("report_deltas") > 0

    db = create_engine(api.database_url)
    try:
        folded = 0
        while True:
            async with transaction(db) as conn:
                done = await rollups.fold(conn, batch=7)  # several batches, some keys split across them
            folded += done
            if done == 0:
                break
        assert folded > 7 and await api.count("report_deltas") == 0
        incremental = await _rollup_rows(api.database_url)
        assert (
            await _report(api, "admin", "summary", **params),
            await _report(api, "admin", "by-place", **params),
        ) == before

        async with transaction(db) as conn:
            assert await rollups.rebuild(conn) == len(incremental)
            assert (
                await conn.execute(sa.select(sa.func.count()).select_from(report_deltas))
            ).scalar_one() == 0
    finally:
        await db.dispose()
    assert await _rollup_rows(api.database_url) == incremental
    assert (
        await _report(api, "admin", "summary", **params),
        await _report(api, "admin", "by-place", **params),
    ) == before


async def test_workers_folding_at_once_count_each_delta_once(api: Api):
    """Four folds racing over 600 deltas (PostgreSQL: SKIP LOCKED; SQLite: one writer at a time)."""
    places = ("/34/3406/340621/340621100/", "/34/3406/340621/340621101/", "/34/3406/340622/")
    rows = [
        {"month": date(2026, 11, 1), "program": "dibao", "place_path": places[i % 3], "metric": "received"}
        for i in range(600)
    ]
    db = create_engine(api.database_url)
    try:
        async with transaction(db) as conn:
            await conn.execute(sa.insert(report_deltas).values(count=1, amount=0), rows)

        async def fold_all() -> int:
            total = 0
            while True:
                async with transaction(db) as conn:
                    done = await rollups.fold(conn, batch=25)
                total += done
                if done == 0:
                    return total

        assert sum(await asyncio.gather(*(fold_all() for _ in range(4)))) == 600
    finally:
        await db.dispose()
    assert await api.count("report_deltas") == 0
    assert [(r[0], r[1], r[5]) for r in await _rollup_rows(api.database_url)] == [
        (2, "/34/3406/", 600),
        (3, "/34/3406/340621/", 400),
        (3, "/34/3406/340622/", 200),
        (4, "/34/3406/340621/340621100/", 200),
        (4, "/34/3406/340621/340621101/", 200),
        (4, "/34/3406/340622/", 200),
    ]
