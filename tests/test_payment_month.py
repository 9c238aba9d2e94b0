"""A full month of payments (issue 22, "done means"), on both databases: 100 enrolments in two programs
and two townships, November paid through the bank with one payment refused (account closed), two
enrolments terminated and one person deceased mid-November, the refused account corrected and paid
in the December batch, each batch built twice giving one set of payments, maker and checker enforced,
and the bank files written and read back."""

import csv
import io
from decimal import Decimal

from openpyxl import Workbook, load_workbook

from app.domain.money import bank_templates
from tests.helpers import VILLAGE_A, VILLAGE_B, Api, id_number
from tests.test_payments import BPMN, _staff

SECOND = BPMN.replace(b'id="paytest"', b'id="paytest2"').replace(
    "发放测试补助".encode(), "发放测试补助（二）".encode()
)
COUNTS = {"paytest": 60, "paytest2": 40}


def _amount(i: int) -> Decimal:
    return Decimal(300 + i) + Decimal("0.25") * (i % 4)


async def _enrol(api: Api, program: str, i: int) -> dict:
    person = id_number()
    case = await api.apply(
        program=program,
        division_code=VILLAGE_A if i % 2 else VILLAGE_B,
        applicant={
            "name": f"{'李' if program == 'paytest' else '赵'}{i}",
            "id_number": person,
            "phone": "13900000000",
        },
    )
    done = await api.step("county", case["id"], "county_confirm", {"monthly_amount": str(_amount(i))})
    assert done["application"]["status"] == "approved", done
    r = await api.put(
        "county",
        "/payments/accounts",
        {
            "person_id_number": person,
            "holder_name": f"{'李' if program == 'paytest' else '赵'}{i}",
            "bank_name": "濉溪农商银行",
            "account_number": f"62170012{i:03d}{len(program):02d}000000",
        },
    )
    await _confirm(api, r)
    return {"id": case["id"], "person": person, "amount": _amount(i), "program": program}


async def _confirm(api: Api, proposed) -> None:
    """An account change pays nobody until the county finance office confirms it (not its proposer)."""
    assert proposed.status_code == 202, proposed.text
    r = await api.post("finance", f"/payments/account-changes/{proposed.json()['id']}/confirm")
    assert r.status_code == 200 and r.json()["in_force"], r.text


async def _batch(api: Api, program: str, pay_date: str) -> dict:
    """Built twice: the second build keeps the first's items, adds none."""
    body = {"county_code": "340621", "program": program, "pay_date": pay_date}
    first = await api.post("county", "/payments/batches", body)
    assert first.status_code == 200, first.text
    ids = [i["id"] for i in await _all_items(api, first.json()["id"])]
    again = await api.post("county", "/payments/batches", body)
    assert again.json()["id"] == first.json()["id"] and again.json()["item_count"] == len(ids)
    assert [i["id"] for i in await _all_items(api, first.json()["id"])] == ids
    return again.json()


async def _all_items(api: Api, batch_id: int) -> list[dict]:
    r = await api.get("county", f"/payments/batches/{batch_id}/items", limit=200)
    assert r.status_code == 200, r.text
    return r.json()


async def _approve(api: Api, batch_id: int) -> None:
    path = f"/payments/batches/{batch_id}"
    assert (await api.post("county", path + "/submit")).status_code == 200
    r = await api.post("county", path + "/approve")  # the maker is not the checker
    assert r.status_code == 403, r.text
    r = await api.post("finance", path + "/approve")
    assert r.status_code == 200, r.text


async def _to_the_bank_and_back(api: Api, batch_id: int, template: str, refuse: set[str]) -> dict:
    """Export, answer as the bank would (every row paid but the people in ``refuse``), read it back."""
    r = await api.get("county", f"/payments/batches/{batch_id}/export", template=template)
    assert r.status_code == 200, r.text
    chosen = bank_templates.get(template)
    headers = {c.field: c.header for c in chosen.columns}
    columns = chosen.result_columns
    if template.endswith("csv"):
        rows = list(csv.DictReader(io.StringIO(r.content.decode(chosen.encoding))))
    else:
        table = list(load_workbook(io.BytesIO(r.content)).worksheets[0].iter_rows(values_only=True))
        rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    answers = []
    for n, row in enumerate(rows):
        refused = row[headers["person_id_number"]] in refuse
        answers.append(
            {
                columns["reference"]: row[headers["reference"]],
                columns["amount"]: row[headers["amount"]],
                columns["status"]: "失败" if refused else "成功",
                columns["bank_reference"]: "" if refused else f"BK{batch_id}{n:05d}",
                columns["reason_code"]: "E01" if refused else "",
                columns["reason_text"]: "账户已销户" if refused else "",
            }
        )
    if template.endswith("csv"):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns.values()))
        writer.writeheader()
        writer.writerows(answers)
        content = out.getvalue().encode(chosen.encoding)
    else:
        book = Workbook()
        sheet = book.active
        sheet.append(list(columns.values()))
        for answer in answers:
            sheet.append([answer.get(h) for h in columns.values()])
        buffer = io.BytesIO()
        book.save(buffer)
        content = buffer.getvalue()
    r = await api.post(
        "county",
        f"/payments/batches/{batch_id}/results",
        files={"file": ("result", content, "application/octet-stream")},
        data={"template": template},
    )
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == len(rows) and r.json()["failed"] == len(
        refuse & {row[headers["person_id_number"]] for row in rows}
    )
    return r.json()


async def _reconcile(api: Api, month: str) -> dict:
    r = await api.get("finance", "/payments/reconciliation", county="340621", month=month)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_full_month_of_payments_through_the_bank(api: Api):
    await _staff(api)
    await api.upload(BPMN, "payments_monthly.bpmn")
    await api.upload(SECOND, "payments_monthly_2.bpmn")
    await api.set_clock("2026-10-20T09:00:00+08:00")
    people = {
        program: [await _enrol(api, program, i) for i in range(count)] for program, count in COUNTS.items()
    }
    refused = people["paytest"][7]
    moved = [people["paytest"][1], people["paytest2"][1]]
    deceased = people["paytest2"][2]

    await api.set_clock("2026-10-28T09:00:00+08:00")
    november = {program: await _batch(api, program, "2026-11-01") for program in COUNTS}
    for program, count in COUNTS.items():
        assert november[program]["item_count"] == count
        assert Decimal(november[program]["total_amount"]) == sum(p["amount"] for p in people[program])
        await _approve(api, november[program]["id"])
    done = await _to_the_bank_and_back(api, november["paytest"]["id"], "suixi_rcb_csv", {refused["person"]})
    assert (done["paid"], done["failed"], done["batch"]["status"]) == (59, 1, "settled")
    done = await _to_the_bank_and_back(api, november["paytest2"]["id"], "psbc_xlsx", set())
    assert (done["paid"], done["failed"], done["batch"]["status"]) == (40, 0, "settled")

    # Mid-November: two enrolments end (moved away), one person dies; November was paid all the same.
    await api.set_clock("2026-11-16T09:00:00+08:00")
    for person in moved:
        await api.message("moved_away", person["id"], {"moved_on": "2026-11-15"})
    await api.set_clock("2026-11-21T09:00:00+08:00")
    await api.message("person_deceased", deceased["id"], {"died_on": "2026-11-20"})
    await api.set_clock("2026-11-25T09:00:00+08:00")
    r = await api.put(
        "county",
        "/payments/accounts",
        {
            "person_id_number": refused["person"],
            "holder_name": "李7",
            "bank_name": "中国邮政储蓄银行",
            "account_number": "6210981234567890007",
        },
    )
    await _confirm(api, r)

    await api.set_clock("2026-11-28T09:00:00+08:00")
    december = {program: await _batch(api, program, "2026-12-01") for program in COUNTS}
    assert december["paytest"]["item_count"] == 60  # 59 running + November's refused payment again
    assert december["paytest2"]["item_count"] == 38
    r = await api.get("county", f"/payments/batches/{december['paytest2']['id']}/left-out")
    assert sorted((x["application_id"], x["reason"]) for x in r.json()) == sorted(
        [(moved[1]["id"], "ended"), (deceased["id"], "deceased")]
    )
    again = [
        i for i in await _all_items(api, december["paytest"]["id"]) if i["application_id"] == refused["id"]
    ]
    assert sorted((i["period"], i["attempt"], i["account_masked"][-4:]) for i in again) == [
        ("2026-11", 2, "0007"),
        ("2026-12", 1, "0007"),
    ]
    for program in COUNTS:
        await _approve(api, december[program]["id"])
    done = await _to_the_bank_and_back(api, december["paytest"]["id"], "psbc_xlsx", set())
    assert (done["paid"], done["batch"]["status"]) == (60, "settled")
    done = await _to_the_bank_and_back(api, december["paytest2"]["id"], "suixi_rcb_csv", set())
    assert (done["paid"], done["batch"]["status"]) == (38, "settled")

    # Reconciliation: November 100 scheduled, 99 paid, 1 failed; December 98, all paid.
    everyone = sum(p["amount"] for ps in people.values() for p in ps)
    nov = await _reconcile(api, "2026-11")
    assert nov["totals"]["scheduled"] == {"count": 100, "amount": f"{everyone:.2f}"}
    assert nov["totals"]["failed"] == {"count": 1, "amount": f"{refused['amount']:.2f}"}
    assert nov["totals"]["paid"] == {"count": 99, "amount": f"{everyone - refused['amount']:.2f}"}
    assert sorted((p["division_code"], p["program"], p["scheduled"]["count"]) for p in nov["places"]) == [
        ("340621100", "paytest", 30),
        ("340621100", "paytest2", 20),
        ("340621101", "paytest", 30),
        ("340621101", "paytest2", 20),
    ]
    dec = await _reconcile(api, "2026-12")
    gone = sum(p["amount"] for p in [*moved, deceased])
    assert dec["totals"]["scheduled"] == {"count": 98, "amount": f"{everyone - gone + refused['amount']:.2f}"}
    assert dec["totals"]["paid"] == dec["totals"]["scheduled"]
    assert dec["totals"]["failed"]["count"] == dec["totals"]["pending"]["count"] == 0
    r = await api.get(
        "finance", "/payments/reconciliation/items", county="340621", month="2026-11", status="failed"
    )
    assert [i["application_id"] for i in r.json()] == [refused["id"]]

    # One set of payments: 100 in November, 98 in December, the refused one twice for November.
    assert await api.count("payment_items") == 198
    assert await api.count("payment_items", "status = 'paid'") == 197
    assert await api.count("payment_batches") == 4
