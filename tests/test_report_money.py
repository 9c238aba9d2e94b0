"""Money in the reports (docs/reports.md): enrolments started, ended and active with their monthly
amounts, amounts scheduled and paid as payment batches are submitted, sent back and approved; a
department reads only its own programs; a rebuild from the trail and the batches gives the same
rollups. Both databases, real HTTP, the payments story of tests/test_payments.py."""

import sqlalchemy as sa

from app.db.engine import create_engine, transaction
from app.domain.reports import rollups
from tests.helpers import Api
from tests.test_payment_bank_files import _by_person, _csv_rows, _export, _ref, _result_csv, _results
from tests.test_payments import _build, month  # noqa: F401  (month is a fixture)
from tests.test_reports import _report, _rollup_rows

OCT_NOV = {"place": "340621", "program": "paytest", "from": "2026-10", "to": "2026-11"}


async def _pay_november(api: Api, people: dict) -> None:
    """November's batch submitted, sent back, submitted again and approved, then sent to the bank, which
    pays a, c and d and refuses b (500.00); 王二 moves, 王三 dies."""
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _build(api, "2026-11-01", who="both")
    path = f"/payments/batches/{batch['id']}"
    assert (await api.post("both", path + "/submit")).status_code == 200
    r = await api.post("finance", path + "/refuse", {"reason": "开户行有误"})
    assert r.status_code == 200, r.text
    await _build(api, "2026-11-01")
    assert (await api.post("county", path + "/submit")).status_code == 200
    assert (await api.post("both", path + "/approve")).status_code == 200
    # Approved is not paid: until the bank answers, nothing counts as paid.
    approved = await _report(api, "county", "summary", **OCT_NOV)
    assert (approved["payments_scheduled"], approved["amount_scheduled"], approved["amount_paid"]) == (
        4,
        1900.85,
        0,
    )
    exported = _by_person(people, _csv_rows((await _export(api, batch["id"])).content))
    results = [{**_ref(exported, k), "status": "成功", "bank_reference": f"B-{k}"} for k in "acd"]
    results.append(
        {**_ref(exported, "b"), "status": "失败", "reason_code": "E01", "reason_text": "账户已销户"}
    )
    r = await _results(api, batch["id"], _result_csv(results))
    assert r.status_code == 200 and r.json()["batch"]["status"] == "settled", r.text
    await api.set_clock("2026-11-16T09:00:00+08:00")
    await api.message("moved_away", people["b"]["id"], {"moved_on": "2026-11-15"})
    await api.set_clock("2026-11-21T09:00:00+08:00")
    await api.message("person_deceased", people["c"]["id"], {"died_on": "2026-11-20"})


async def test_enrolments_and_amounts_scheduled_and_paid(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    october = await _report(api, "admin", "summary", **{**OCT_NOV, "to": "2026-10"})
    assert (october["enrolments_started"], october["enrolments_active"]) == (5, 5)
    assert october["monthly_amount_active"] == 2600.85  # 620.50 + 500 + 480.25 + 300.10 + 700
    await _pay_november(api, month)

    figures = await _report(api, "county", "summary", **OCT_NOV)
    assert {k: figures[k] for k in (
        "approved", "terminated", "enrolments_started", "enrolments_ended", "enrolments_active",
        "monthly_amount_active", "payments_scheduled", "amount_scheduled", "payments_paid", "amount_paid",
    )} == {
        "approved": 5,
        "terminated": 2,  # 王二 moved, 王三 died
        "enrolments_started": 5,
        "enrolments_ended": 2,
        "enrolments_active": 3,
        "monthly_amount_active": 1620.6,  # 620.50 + 300.10 + 700
        "payments_scheduled": 3,  # submitted twice, sent back once: counted once; the bank refused b
        "amount_scheduled": 1400.85,  # 620.50 + 480.25 + 300.10 (b's 500.00 is due again)
        "payments_paid": 3,  # what the bank's result file says it paid
        "amount_paid": 1400.85,
    }  # fmt: skip
    # Paid for November (the batch's pay month), not October when it was approved.
    october = await _report(api, "county", "summary", **{**OCT_NOV, "to": "2026-10"})
    assert (october["payments_paid"], october["enrolments_active"]) == (0, 5)
    ended = await _report(api, "county", "cases", place="340621", program="paytest",
                          figure="enrolments_ended", month="2026-11")  # fmt: skip
    assert sorted(i["applicant_name"] for i in ended["items"]) == ["王*", "王*"]
    assert {i["id"] for i in ended["items"]} == {month["b"]["id"], month["c"]["id"]}
    active = await _report(
        api, "county", "cases", place="340621", program="paytest", figure="enrolments_active"
    )
    assert {i["id"] for i in active["items"]} == {month[k]["id"] for k in "ade"}

    # The monthly report of November, from the same figures.
    report = await _report(api, "county", "monthly/paytest", place="340621", month="2026-11")
    total = report["rows"][0]
    assert (total["enrolments_ended"], total["enrolments_active"], total["amount_paid"]) == (2, 3, 1400.85)

    # The county education bureau reads its own programs, not civil affairs' (nor their money).
    r = await api.get("edu_county", "/reports/summary", **OCT_NOV)
    assert r.status_code == 403 and r.json()["code"] == "report_not_allowed", r.text
    everything = await _report(
        api, "edu_county", "summary", place="340621", **{"from": "2026-10"}, to="2026-11"
    )
    assert (everything["received"], everything["amount_paid"], everything["enrolments_active"]) == (0, 0.0, 0)
    r = await api.get("edu_county", "/reports/cases", place="340621", figure="enrolments_active")
    assert r.status_code == 200 and r.json()["items"] == []
    # An administrator reads every program.
    assert (await _report(api, "admin", "summary", place="34", **{"from": "2026-10"}, to="2026-11"))[
        "amount_paid"
    ] == 1400.85


async def test_a_rebuild_counts_the_money_as_the_changes_did(api: Api, month: dict):
    await _pay_november(api, month)
    before = await _report(api, "county", "summary", **OCT_NOV)
    db = create_engine(api.database_url)
    try:
        while True:
            async with transaction(db) as conn:
                if await rollups.fold(conn) == 0:
                    break
        incremental = await _rollup_rows(api.database_url)
        assert any(row[4] == "amount_paid" for row in incremental)
        async with transaction(db) as conn:
            await rollups.rebuild(conn)
            left = (await conn.execute(sa.text("SELECT count(*) FROM report_deltas"))).scalar_one()
        assert left == 0
    finally:
        await db.dispose()
    assert await _rollup_rows(api.database_url) == incremental
    assert await _report(api, "county", "summary", **OCT_NOV) == before
