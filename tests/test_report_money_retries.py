"""Money figures against what the batches and the bank did (docs/reports.md): a batch sent back by
finance, a payment the bank refused and paid again in a later month's batch, that month's result file
imported twice at once; the reports' amounts equal the payments' reconciliation month by month, and a
rebuild from the trail and the batches leaves the rollups row for row as the changes did. Both
databases, real HTTP."""

import asyncio
from decimal import Decimal

from app.db.engine import create_engine, transaction
from app.domain.reports import rollups
from tests.helpers import Api
from tests.test_payment_bank_files import (
    NEW_ACCOUNT,
    _by_person,
    _csv_rows,
    _export,
    _ref,
    _result_csv,
    _results,
)
from tests.test_payments import _account, _build, _items, month  # noqa: F401  (month is a fixture)
from tests.test_report_money import _pay_november
from tests.test_reports import _report, _rollup_rows


async def _reconciled(api: Api, pay_month: str) -> dict:
    r = await api.get(
        "finance", "/payments/reconciliation", county="340621", month=pay_month, program="paytest"
    )
    assert r.status_code == 200, r.text
    return r.json()["totals"]


def _money(report: dict) -> tuple:
    return (
        report["payments_scheduled"],
        report["amount_scheduled"],
        report["payments_paid"],
        report["amount_paid"],
    )


def _expected(totals: dict) -> tuple:
    """Scheduled: what the batches carried less what the bank refused (paid again elsewhere); paid: paid."""
    scheduled = Decimal(totals["scheduled"]["amount"]) - Decimal(totals["failed"]["amount"])
    return (
        totals["scheduled"]["count"] - totals["failed"]["count"],
        float(scheduled),
        totals["paid"]["count"],
        float(Decimal(totals["paid"]["amount"])),
    )


async def test_a_refused_payment_paid_again_in_december_and_its_file_imported_twice_at_once(
    api: Api, month: dict
):
    await _pay_november(api, month)  # sent back once, then approved; the bank refuses 王二's 500.00
    await api.set_clock("2026-11-28T09:00:00+08:00")
    await _account(api, month["b"], number=NEW_ACCOUNT)
    december = await _build(api, "2026-12-01")
    items = await _items(api, december["id"])
    again = [i for i in items if i["application_id"] == month["b"]["id"] and i["period"] == "2026-11"]
    assert [i["attempt"] for i in again] == [2]  # November's refused payment, due again in December's batch
    path = f"/payments/batches/{december['id']}"
    assert (await api.post("county", path + "/submit")).status_code == 200
    assert (await api.post("finance", path + "/approve")).status_code == 200
    exported = _by_person(month, _csv_rows((await _export(api, december["id"])).content))
    content = _result_csv(
        [{**_ref(exported, k), "status": "成功", "bank_reference": f"D-{k}"} for k in exported]
    )
    # Two clicks (or two replicas) import the same file at once: one counts, the other finds it recorded.
    first, second = await asyncio.gather(
        _results(api, december["id"], content), _results(api, december["id"], content)
    )
    assert {first.status_code, second.status_code} <= {200, 409}, (first.text, second.text)
    assert 200 in {first.status_code, second.status_code}

    for pay_month in ("2026-11", "2026-12"):
        report = await _report(api, "county", "summary", place="340621", program="paytest",
                               **{"from": pay_month}, to=pay_month)  # fmt: skip
        assert _money(report) == _expected(await _reconciled(api, pay_month)), pay_month
    december_figures = await _report(api, "county", "summary", place="340621", program="paytest",
                                     **{"from": "2026-12"}, to="2026-12")  # fmt: skip
    total = sum(Decimal(i["amount"]) for i in items)
    assert _money(december_figures) == (len(items), float(total), len(items), float(total))
    both = await _report(api, "county", "summary", place="340621", program="paytest",
                         **{"from": "2026-11"}, to="2026-12")  # fmt: skip
    assert both["amount_paid"] == float(Decimal("1400.85") + total)

    db = create_engine(api.database_url)
    try:
        while True:
            async with transaction(db) as conn:
                if await rollups.fold(conn) == 0:
                    break
        incremental = await _rollup_rows(api.database_url)
        async with transaction(db) as conn:
            await rollups.rebuild(conn)
    finally:
        await db.dispose()
    assert await _rollup_rows(api.database_url) == incremental
    assert await _report(api, "county", "summary", place="340621", program="paytest",
                         **{"from": "2026-11"}, to="2026-12") == both  # fmt: skip
