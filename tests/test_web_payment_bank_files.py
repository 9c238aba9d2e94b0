"""银行文件 on the 资金发放 page in a browser: the county office downloads the bank file of an approved
batch, a wrong result file is refused with its row numbers, the right one records paid and refused
payments; the finance office sees the results but no bank-file buttons. Desktop and 360 px."""

import csv
import io

import pytest

from app.domain.money import bank_templates
from tests.test_payments import BPMN, _account, _build, _enrol, _staff
from tests.web_support import PHONE

pytestmark = pytest.mark.dates
CSV = "suixi_rcb_csv"


def _answer(rows: list[dict[str, str]], refuse: str, amount_of_paid: str | None = None) -> bytes:
    columns = bank_templates.get(CSV).result_columns
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns.values())
    for n, row in enumerate(rows):
        refused = row["收款户名"] == refuse
        writer.writerow(
            [
                row["业务参考号"],
                row["金额（元）"] if refused or amount_of_paid is None else amount_of_paid,
                "失败" if refused else "成功",
                "" if refused else f"BK{n}",
                "E01" if refused else "",
                "账户已销户" if refused else "",
                "2026-11-01",
            ]
        )
    return out.getvalue().encode("gbk")


async def test_bank_file_out_and_result_file_in_through_the_page(live_ui, tmp_path):
    ui, api = live_ui, live_ui.api
    await _staff(api)
    await api.upload(BPMN, "payments_monthly.bpmn")
    await api.set_clock("2026-10-20T09:00:00+08:00")
    people = [await _enrol(api, name, amount) for name, amount in [("王一", "620.50"), ("王二", "500")]]
    await _account(api, people[0])
    await _account(api, people[1], number="6217009999888877776")
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _build(api, "2026-11-01")
    assert (await api.post("county", f"/payments/batches/{batch['id']}/submit")).status_code == 200
    assert (await api.post("finance", f"/payments/batches/{batch['id']}/approve")).status_code == 200
    batch_url = ui.url + f"/ui/payments/{batch['id']}"

    clerk = await ui.login("county")
    await clerk.goto(batch_url)
    exporting = clerk.get_by_role("form", name="导出银行文件")
    await exporting.get_by_label("银行模板").select_option(CSV)
    async with clerk.expect_download() as downloading:
        await exporting.get_by_role("button", name="导出银行文件").click()
    download = await downloading.value
    assert download.suggested_filename.endswith(".csv")
    saved = tmp_path / "bank.csv"
    await download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_bytes().decode("gbk"))))
    assert sorted(row["收款户名"] for row in rows) == ["王一", "王二"]
    await clerk.reload()
    assert "已导出银行文件" in await clerk.locator("#batch-status").inner_text()
    assert "county" in await clerk.locator("#exported").inner_text()

    # A result file whose paid amount is not the item's: refused whole, the row named.
    importing = clerk.get_by_role("form", name="导入回盘文件")
    await importing.get_by_label("银行模板").select_option(CSV)
    await importing.get_by_label("回盘文件").set_input_files(
        {
            "name": "回盘.csv",
            "mimeType": "text/csv",
            "buffer": _answer(rows, refuse="王二", amount_of_paid="1.00"),
        }
    )
    await importing.get_by_role("button", name="导入回盘文件").click()
    problems = await clerk.locator("#row-problems").inner_text()
    assert "金额与发放明细不一致" in problems and "第2行" in problems, problems
    assert "未导入任何一行" in await clerk.locator("#batch-error").inner_text()
    await ui.shot(clerk, "bank-result-refused-desktop")

    importing = clerk.get_by_role("form", name="导入回盘文件")
    await importing.get_by_label("银行模板").select_option(CSV)
    await importing.get_by_label("回盘文件").set_input_files(
        {"name": "回盘.csv", "mimeType": "text/csv", "buffer": _answer(rows, refuse="王二")}
    )
    await importing.get_by_role("button", name="导入回盘文件").click()
    assert "成功1笔，失败1笔" in await clerk.get_by_role("status").inner_text()
    assert "银行已回盘" in await clerk.locator("#batch-status").inner_text()
    items = await clerk.locator("#items tbody").inner_text()
    assert "已发放" in items and "发放失败" in items and "账户已销户（E01）" in items, items
    assert await clerk.get_by_role("form", name="导出银行文件").count() == 0  # settled: nothing left to send
    await ui.shot(clerk, "bank-files-desktop")

    phone = await ui.login("county", viewport=PHONE)
    await phone.goto(batch_url)
    assert await phone.get_by_role("form", name="导入回盘文件").count() == 1
    await ui.shot(phone, "bank-files-phone")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Finance reads the results; the bank file is the preparing office's.
    finance = await ui.login("finance", viewport=PHONE)
    await finance.goto(batch_url)
    assert "账户已销户" in await finance.locator("#items tbody").inner_text()
    assert await finance.locator("#bank-files").count() == 0
    r = await finance.request.get(batch_url + f"/export?template={CSV}", max_redirects=0)
    assert r.status == 303  # refused, back to the page with why
    await finance.goto(ui.url + r.headers["location"])
    assert "只有" in await finance.locator("#batch-error").inner_text()
