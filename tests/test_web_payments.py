"""资金发放 (/ui/payments) in a browser: the county office builds and submits a batch, the county finance
office refuses it with a reason, then approves it once submitted again; the submitter cannot approve."""

import pytest

from tests.test_payments import BPMN, _account, _enrol, _staff
from tests.web_support import PHONE

pytestmark = pytest.mark.dates


async def test_a_batch_from_building_to_approval_in_the_browser(live_ui):
    ui, api = live_ui, live_ui.api
    await _staff(api)
    await api.upload(BPMN, "payments_monthly.bpmn")
    await api.set_clock("2026-10-20T09:00:00+08:00")
    paid = [await _enrol(api, name, amount) for name, amount in [("王一", "620.50"), ("王二", "500")]]
    await _account(api, paid[0])
    await api.set_clock("2026-10-28T09:00:00+08:00")

    # Neither a township reviewer nor another county's office sees the page's batches.
    town = await ui.login("town_a")
    assert await town.get_by_role("link", name="资金发放").count() == 0

    clerk = await ui.login("county")
    await clerk.get_by_role("link", name="资金发放").click()
    await clerk.get_by_label("业务").select_option("paytest")
    await clerk.get_by_label("发放日期").fill("2026-11-01")
    await clerk.get_by_role("button", name="生成发放批次").click()
    assert "已生成发放批次：1笔，另有1笔未列入" in await clerk.get_by_role("status").inner_text()
    assert "620.50元" in await clerk.locator("#batch-total").inner_text()
    items = await clerk.locator("#items tbody").inner_text()
    assert "王一" in items and "**** **** **** 0123" in items and "6217" not in items, items
    assert "无银行账号" in await clerk.locator("#left-out tbody").inner_text()
    batch_url = clerk.url.split("?")[0]
    await clerk.get_by_role("button", name="提交财政审核").click()
    assert "待财政审核" in await clerk.locator("#batch-status").inner_text()
    # The clerk holds no finance role: no button to approve, and a forged post is refused in words.
    assert await clerk.get_by_role("button", name="审核通过").count() == 0
    forged = await clerk.request.post(
        batch_url + "/approve",
        form={"csrf_token": await clerk.locator("input[name=csrf_token]").first.get_attribute("value")},
    )
    # (POST/redirect/GET: the batch page says why, with the refusal's status, and names the office in Chinese)
    assert forged.status == 403 and "只有县级财政可以" in await forged.text()
    await clerk.reload()
    assert "待财政审核" in await clerk.locator("#batch-status").inner_text()

    other = await ui.login("other_county")
    r = await other.goto(batch_url)
    assert r.status == 404

    finance = await ui.login("finance", viewport=PHONE)
    await finance.goto(batch_url)
    await finance.get_by_label("退回理由").fill("请核实王二的银行账号后一并发放")
    await finance.get_by_role("button", name="退回").click()
    assert "已退回" in await finance.get_by_role("status").inner_text()
    assert "请核实王二的银行账号" in await finance.locator("#refusal").inner_text()
    await ui.shot(finance, "payment-batch-phone")
    assert await finance.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    await _account(api, paid[1])
    await clerk.goto(ui.url + "/ui/payments")
    await clerk.get_by_label("业务").select_option("paytest")
    await clerk.get_by_label("发放日期").fill("2026-11-01")
    await clerk.get_by_role("button", name="生成发放批次").click()
    assert "已生成发放批次：2笔，另有0笔未列入" in await clerk.get_by_role("status").inner_text()
    await clerk.get_by_role("button", name="提交财政审核").click()
    await finance.goto(batch_url)
    await finance.get_by_role("button", name="审核通过").click()
    assert "审核通过" in await finance.locator("#batch-status").inner_text()
    assert "1,120.50元" in await finance.locator("#batch-total").inner_text()
    await ui.shot(clerk, "payment-batch-desktop")
