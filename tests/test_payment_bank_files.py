"""To the bank and back (issue 22 items 3 and 5): an approved batch exported in the bank's template
(CSV in GBK, XLSX in fen), the bank's result file read back — strictly, idempotently, in parts —,
a refused payment paid again once the account is corrected, reconciliation, ``payment.*`` webhooks
without personal data, and who may not do any of it."""

import asyncio
import csv
import io
import json

import httpx
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from app.db.engine import create_engine
from app.domain.money import bank_results, bank_templates
from app.domain.people import accounts
from tests.helpers import Api
from tests.test_payments import ACCOUNT, _account, _build, _items, _left_out, _waits_at, month  # noqa: F401

CSV = "suixi_rcb_csv"
XLSX = "psbc_xlsx"
NEW_ACCOUNT = "6228480000111122223333"


async def _approved(api: Api, pay_date: str = "2026-11-01") -> dict:
    batch = await _build(api, pay_date)
    assert (await api.post("county", f"/payments/batches/{batch['id']}/submit")).status_code == 200
    r = await api.post("finance", f"/payments/batches/{batch['id']}/approve")
    assert r.status_code == 200, r.text
    return r.json()


async def _export(api: Api, batch_id: int, template: str = CSV, who: str = "county") -> httpx.Response:
    return await api.get(who, f"/payments/batches/{batch_id}/export", template=template)


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("gbk"))))


def _result_csv(rows: list[dict[str, str]]) -> bytes:
    columns = bank_templates.get(CSV).result_columns
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns.values())
    for row in rows:
        writer.writerow([row.get(field, "") for field in columns])
    return out.getvalue().encode("gbk")


async def _results(
    api: Api, batch_id: int, content: bytes, template: str = CSV, who: str = "county", name: str = "回盘.csv"
) -> httpx.Response:
    return await api.post(
        who,
        f"/payments/batches/{batch_id}/results",
        files={"file": (name, content, "application/octet-stream")},
        data={"template": template},
    )


def _by_person(month: dict, exported: list[dict[str, str]], field: str = "证件号码") -> dict[str, dict]:
    """The exported rows by the month fixture's key (a, b, c…)."""
    keys = {p["person"]: key for key, p in month.items()}
    return {keys[row[field]]: row for row in exported}


async def test_csv_to_the_bank_and_back_with_a_refused_payment_paid_again_after_the_account_changes(
    api: Api,
    month: dict,
):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    admin_sub = await api.post(
        "admin",
        "/webhook-subscriptions",
        {
            "url": "http://127.0.0.1:9/hook",
            "event_types": ["payment.batch_settled", "payment.item_failed"],
            "division_code": "340621",
        },
    )
    other_sub = await api.post(
        "admin",
        "/webhook-subscriptions",
        {
            "url": "http://127.0.0.1:9/other",
            "event_types": ["payment.batch_settled"],
            "division_code": "340622",
        },
    )
    assert admin_sub.status_code == 201 and other_sub.status_code == 201, admin_sub.text + other_sub.text
    batch = await _approved(api)
    path = f"/payments/batches/{batch['id']}"

    r = await _export(api, batch["id"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv") and r.headers["cache-control"] == "no-store"
    header = r.content.decode("gbk").splitlines()[0].split(",")
    assert header == [c.header for c in bank_templates.get(CSV).columns]
    exported = _by_person(month, _csv_rows(r.content))
    assert set(exported) == set("abcd")
    assert exported["a"]["收款账号"] == ACCOUNT and exported["a"]["收款户名"] == month["a"]["name"]
    assert exported["a"]["金额（元）"] == "620.50" and exported["c"]["金额（元）"] == "480.25"
    assert exported["a"]["用途"] == "发放测试补助2026年11月"
    items = {i["reference"]: i for i in await _items(api, batch["id"])}
    assert {row["业务参考号"] for row in exported.values()} == set(items)
    assert (await api.get("county", path)).json()["status"] == "exported"

    # Part of the results: a and c paid, b refused (account closed), d not yet.
    first = _result_csv(
        [
            {**_ref(exported, "a"), "status": "成功", "bank_reference": "B20261101001", "date": "2026-11-01"},
            {**_ref(exported, "b"), "status": "失败", "reason_code": "E01", "reason_text": "账户已销户"},
            {**_ref(exported, "c"), "status": "成功", "bank_reference": "B20261101003", "date": "20261101"},
        ]
    )
    r = await _results(api, batch["id"], first)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("rows", "paid", "failed", "unchanged", "pending")} == {
        "rows": 3,
        "paid": 2,
        "failed": 1,
        "unchanged": 0,
        "pending": 1,
    }
    assert r.json()["batch"]["status"] == "exported"
    # The same file again (a clerk's second click, a retry): nothing changes.
    r = await _results(api, batch["id"], first)
    assert r.status_code == 200 and (r.json()["unchanged"], r.json()["paid"], r.json()["failed"]) == (3, 0, 0)
    # Exported again: only what has no result yet, so nobody is paid twice.
    again = _by_person(month, _csv_rows((await _export(api, batch["id"])).content))
    assert set(again) == {"d"}
    r = await _results(
        api, batch["id"], _result_csv([{**_ref(exported, "d"), "status": "已入账", "bank_reference": "B4"}])
    )
    assert r.status_code == 200 and r.json()["pending"] == 0, r.text
    settled = r.json()["batch"]
    assert settled["status"] == "settled" and settled["settled_at"] is not None
    r = await _export(api, batch["id"])
    assert r.status_code == 409 and r.json()["code"] == "batch_not_exportable", r.text

    by_app = {i["application_id"]: i for i in await _items(api, batch["id"])}
    refused = by_app[month["b"]["id"]]
    assert (refused["status"], refused["failure_code"], refused["failure_reason"]) == (
        "failed",
        "E01",
        "账户已销户",
    )
    paid = by_app[month["a"]["id"]]
    assert (paid["status"], paid["bank_reference"], paid["bank_date"]) == (
        "paid",
        "B20261101001",
        "2026-11-01",
    )
    assert by_app[month["c"]["id"]]["bank_date"] == "2026-11-01"  # 20261101 read as a date

    # The trail: each export and each file, counts only.
    r = await api.get("admin", "/admin/audit", subject=f"payment_batch:{batch['id']}")
    trail = r.json()["items"] if isinstance(r.json(), dict) else r.json()
    assert [e["type"] for e in reversed(trail)][3:] == [
        "payment_batch.exported",
        "payment_batch.results_imported",
        "payment_batch.exported",
        "payment_batch.results_imported",
        "payment_batch.settled",
    ]
    assert trail[1]["new"]["rows"] == 1 and trail[1]["new"]["template"] == CSV

    # Reconciliation of November: scheduled 4, paid 3, failed 1, by township and program.
    r = await api.get("finance", "/payments/reconciliation", county="340621", month="2026-11")
    assert r.status_code == 200, r.text
    figures = r.json()
    assert figures["totals"]["scheduled"] == {"count": 4, "amount": "1900.85"}
    assert figures["totals"]["paid"] == {"count": 3, "amount": "1400.85"}
    assert figures["totals"]["failed"] == {"count": 1, "amount": "500.00"}
    assert figures["totals"]["pending"] == {"count": 0, "amount": "0.00"}
    [one] = figures["batches"]
    assert one["batch_id"] == batch["id"] and one["status"] == "settled" and one["failed"]["count"] == 1
    [place] = figures["places"]
    assert (place["division_code"], place["program"], place["scheduled"]["count"]) == (
        "340621100",
        "paytest",
        4,
    )
    r = await api.get(
        "county", "/payments/reconciliation/items", county="340621", month="2026-11", status="failed"
    )
    assert r.status_code == 200, r.text
    [behind] = r.json()
    assert behind["application_id"] == month["b"]["id"] and behind["division_code"] == "340621100"
    assert month["b"]["person"] not in r.text and ACCOUNT not in r.text
    r = await api.get(
        "county", "/payments/reconciliation/items", county="340621", month="2026-11", status="paid"
    )
    assert len(r.json()) == 3
    r = await api.get(
        "county",
        "/payments/reconciliation/items",
        county="340621",
        month="2026-11",
        division_code="340621101",
    )
    assert r.json() == []  # another township: nothing

    # December, before 王二's account is corrected: the refused November payment and December's both wait.
    await api.set_clock("2026-11-28T09:00:00+08:00")
    december = await _build(api, "2026-12-01")
    assert december["item_count"] == 3  # a, c, d
    r = await api.get("county", f"/payments/batches/{december['id']}/left-out")
    waiting = sorted(
        (x["period"], x["reason"], x["detail"]) for x in r.json() if x["application_id"] == month["b"]["id"]
    )
    assert waiting == [("2026-11", "account_unchanged", "E01"), ("2026-12", "account_unchanged", "E01")]
    await _account(api, month["b"], number=NEW_ACCOUNT)
    december = await _build(api, "2026-12-01")
    again = await _build(api, "2026-12-01")  # built twice: one set
    assert december["item_count"] == again["item_count"] == 5
    mine = sorted(
        (i["period"], i["attempt"], i["account_masked"])
        for i in await _items(api, december["id"])
        if i["application_id"] == month["b"]["id"]
    )
    assert mine == [("2026-11", 2, "**** **** **** 3333"), ("2026-12", 1, "**** **** **** 3333")]
    assert await _left_out(api, december["id"]) == {month["e"]["id"]: "no_bank_account"}

    # Webhooks: counts and sums, never a name, an ID number or an account; only to the batch's county.
    outbox = await _outbox(api)
    types = [t for t, _ in outbox]
    assert types == [
        "payment.batch_approved",
        "payment.batch_exported",
        "payment.item_failed",
        "payment.batch_exported",
        "payment.batch_settled",
    ]
    text = str(outbox)
    for person in month.values():
        assert person["person"] not in text and person["name"] not in text
    assert ACCOUNT not in text and "账户已销户" not in text
    failed_event = dict(outbox)["payment.item_failed"]
    assert failed_event["data"]["reason_code"] == "E01" and failed_event["data"]["amount"] == "500.00"
    assert failed_event["division_code"] == "340621" and failed_event["program"] == "paytest"
    assert dict(outbox)["payment.batch_settled"]["data"]["paid_total"] == "1400.85"
    assert (await api.post("admin", "/admin/timers/run")).status_code == 200
    assert await api.count("webhook_deliveries", f"subscription_id = '{admin_sub.json()['id']}'") == 2
    assert await api.count("webhook_deliveries", f"subscription_id = '{other_sub.json()['id']}'") == 0


def _ref(exported: dict[str, dict], key: str) -> dict[str, str]:
    return {"reference": exported[key]["业务参考号"], "amount": exported[key]["金额（元）"]}


async def _outbox(api: Api) -> list[tuple[str, dict]]:
    db = create_engine(api.database_url)
    try:
        async with db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT event_type, payload FROM outbox WHERE event_type LIKE 'payment.%' ORDER BY id"
                    )
                )
            ).all()
    finally:
        await db.dispose()
    return [(t, p if isinstance(p, dict) else json.loads(p)) for t, p in rows]


async def test_xlsx_in_fen_read_back_settles_the_batch(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _approved(api)
    r = await _export(api, batch["id"], XLSX)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [c.header for c in bank_templates.get(XLSX).columns]
    exported = {row[2]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    a = exported[month["a"]["person"]]
    assert (
        a["金额（分）"] == 62050
        and a["卡号"] == ACCOUNT
        and a["姓名"] == "王一"
        and a["发放日期"] == "2026-11-01"
    )
    assert sheet.cell(row=2, column=4).number_format == "@"  # 卡号 kept as text, not 6.2E+18

    book = Workbook()
    result = book.active
    result.append(list(bank_templates.get(XLSX).result_columns.values()))
    for row in exported.values():
        failed = row["身份证号"] == month["d"]["person"]
        result.append(
            [
                row["客户流水号"],
                row["金额（分）"],
                "失败" if failed else "成功",
                None if failed else f"P{row['客户流水号']}",
                "1002" if failed else None,
                None,  # no text: the template's words for the code
                "2026-11-02",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    r = await _results(api, batch["id"], out.getvalue(), XLSX, name="回盘.xlsx")
    assert r.status_code == 200, r.text
    assert (r.json()["paid"], r.json()["failed"], r.json()["batch"]["status"]) == (3, 1, "settled")
    [refused] = [i for i in await _items(api, batch["id"]) if i["status"] == "failed"]
    assert refused["application_id"] == month["d"]["id"]
    assert (refused["failure_code"], refused["failure_reason"], refused["bank_date"]) == (
        "1002",
        "户名不符",
        "2026-11-02",
    )


async def test_a_result_file_that_does_not_fit_is_refused_whole_with_its_row_numbers(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _approved(api)
    r = await _results(
        api, batch["id"], _result_csv([{"reference": "AF1-1", "amount": "1", "status": "成功"}])
    )
    assert r.status_code == 409 and r.json()["code"] == "batch_not_exported", (
        r.text
    )  # not sent to the bank yet
    exported = _by_person(month, _csv_rows((await _export(api, batch["id"])).content))
    ok = {**_ref(exported, "a"), "status": "成功", "bank_reference": "B1"}
    bad = [
        ok,  # row 2: fine
        {
            "reference": f"AF{batch['id'] + 1}-1",
            "amount": "1.00",
            "status": "成功",
            "bank_reference": "B",
        },  # 3
        {"reference": "XYZ", "amount": "1.00", "status": "成功", "bank_reference": "B"},  # 4
        ok,  # 5: the same reference twice
        {**_ref(exported, "b"), "amount": "500.01", "status": "成功", "bank_reference": "B2"},  # 6
        {**_ref(exported, "c"), "status": "处理中"},  # 7
        {**_ref(exported, "d"), "status": "失败"},  # 8: refused without a reason
        {
            "reference": f"AF{batch['id']}-999999",
            "amount": "1.00",
            "status": "成功",
            "bank_reference": "B",
        },  # 9
    ]
    r = await _results(api, batch["id"], _result_csv(bad))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    problem = r.json()
    assert problem["code"] == "result_file_invalid" and problem["count"] == 7
    assert [(p["row"], p["problem"]) for p in problem["rows"]] == [
        (3, "wrong_batch"),
        (4, "unknown_reference"),
        (5, "duplicate_reference"),
        (6, "amount_differs"),
        (7, "unknown_status"),
        (8, "reason_missing"),
        (9, "unknown_reference"),
    ]
    r = await _results(api, batch["id"], _result_csv([{**_ref(exported, "a"), "status": "成功"}]))
    assert r.status_code == 422 and r.json()["rows"][0]["problem"] == "bank_reference_missing", r.text
    r = await _results(api, batch["id"], "业务参考号,金额（元）\nAF1-1,1\n".encode("gbk"))
    assert r.status_code == 422 and r.json()["rows"] == [
        {"row": 1, "problem": "missing_column", "column": "处理结果"}
    ]
    r = await _results(api, batch["id"], b"PK\x03\x04 not a workbook", XLSX)
    assert r.status_code == 422 and r.json()["code"] == "result_file_unreadable", r.text
    r = await _results(api, batch["id"], _result_csv([ok]), template="no_such_bank")
    assert r.status_code == 422 and r.json()["code"] == "unknown_bank_template", r.text
    assert await api.count("payment_items", "status <> 'pending'") == 0
    assert await api.count("events", "type = 'payment_batch.results_imported'") == 0

    # Recorded once, a contradicting result is refused too.
    assert (await _results(api, batch["id"], _result_csv([ok]))).status_code == 200
    r = await _results(
        api, batch["id"], _result_csv([{**_ref(exported, "a"), "status": "失败", "reason_code": "E01"}])
    )
    assert r.status_code == 422 and r.json()["rows"] == [
        {"row": 2, "reference": exported["a"]["业务参考号"], "problem": "result_differs"}
    ]
    assert await api.count("payment_items", "status <> 'pending'") == 1


async def test_who_may_not_export_import_or_reconcile(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    draft = await _build(api, "2026-11-01")
    r = await _export(api, draft["id"])
    assert r.status_code == 409 and r.json()["code"] == "batch_not_exportable", r.text
    batch = await _approved(api, "2026-11-01")
    for who, status in [
        ("finance", 403),  # finance approves; the preparing office sends the file
        ("admin", 403),  # an administrator does not move money
        ("other_county", 404),
        ("edu_county", 404),
        ("finance_xiao", 404),
        ("town_a", 404),
        ("portal", 404),
        ("stranger", 401),
    ]:
        r = await _export(api, batch["id"], who=who)
        assert r.status_code == status, (who, r.text)
        assert ACCOUNT not in r.text
        r = await _results(api, batch["id"], _result_csv([]), who=who)
        assert r.status_code == status, (who, r.text)
    assert (await api.get("county", f"/payments/batches/{batch['id']}")).json()["status"] == "approved"
    assert await api.count("events", "type LIKE 'payment_batch.export%'") == 0

    for who, status in [
        ("other_county", 403),
        ("finance_xiao", 403),
        ("town_a", 403),
        ("portal", 403),
        ("stranger", 401),
    ]:
        r = await api.get(who, "/payments/reconciliation", county="340621", month="2026-11")
        assert r.status_code == status, (who, r.text)
        r = await api.get(who, "/payments/reconciliation/items", county="340621", month="2026-11")
        assert r.status_code == status, (who, r.text)
    # The county education bureau handles other programs' money: it sees none of this one.
    r = await api.get("edu_county", "/payments/reconciliation", county="340621", month="2026-11")
    assert r.status_code == 200 and r.json()["batches"] == [], r.text
    r = await api.get(
        "edu_county", "/payments/reconciliation", county="340621", month="2026-11", program="paytest"
    )
    assert r.status_code == 403, r.text
    r = await api.get("finance", "/payments/reconciliation", county="340621", month="2026-13")
    assert r.status_code == 422 and r.json()["code"] == "invalid_month", r.text
    r = await api.get(
        "finance", "/payments/reconciliation/items", county="340621", month="2026-11", status="lost"
    )
    assert r.status_code == 422, r.text
    r = await api.get("finance", "/payments/reconciliation", county="340621", month="2026-11")
    assert r.json()["totals"]["scheduled"]["count"] == 4  # approved: money now


async def test_two_imports_of_one_file_at_once_record_it_once(
    api: Api, month: dict
):  # two replicas, two clicks
    """The second import waits for the first's lock on the batch, then finds every row recorded: one
    audit event, one ``payment.item_failed``, whichever replica comes second."""
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _approved(api)
    exported = _by_person(month, _csv_rows((await _export(api, batch["id"])).content))
    content = _result_csv(
        [
            {
                **_ref(exported, k),
                "status": "失败" if k == "b" else "成功",
                "bank_reference": f"B{k}",
                "reason_code": "E01",
            }
            for k in "abcd"
        ]
    )
    template = bank_templates.get(CSV)
    db = create_engine(api.database_url)
    try:
        first = await db.connect()
        await first.begin()
        me = await accounts.principal_for_user(first, "county")
        done = await bank_results.import_file(first, me, batch["id"], template, content)
        assert (done["paid"], done["failed"]) == (3, 1)

        async def second() -> dict:
            async with db.begin() as conn:
                return await bank_results.import_file(conn, me, batch["id"], template, content)

        if api.database_url.startswith("postgresql"):
            racing = asyncio.create_task(second())
            await _waits_at(db, "SELECT payment_batches")  # the first holds the batch
            await first.commit()
            await first.close()
            late = await racing
        else:  # SQLite: one writer at a time
            await first.commit()
            await first.close()
            late = await second()
    finally:
        await db.dispose()
    assert (late["paid"], late["failed"], late["unchanged"]) == (0, 0, 4)
    assert await api.count("events", "type = 'payment_batch.results_imported'") == 1
    assert await api.count("events", "type = 'payment_batch.settled'") == 1
    assert await api.count("outbox", "event_type = 'payment.item_failed'") == 1
