"""资金发放 (/ui/payments) in a browser: the county office builds and submits a batch, the county finance
office refuses it with a reason, then approves it once submitted again; the submitter cannot approve."""

import pytest

from tests.test_payments import BPMN, _account, _build, _enrol, _staff
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


async def test_the_changed_account_flag_and_the_cases_payment_history_in_the_browser(live_ui):
    """The approver sees which item's account changed since the last paid batch; the case page shows
    the person's 发放记录 (period, amount, status, pay date, batch, masked account) at desktop and 360 px."""
    ui, api = live_ui, live_ui.api
    await _staff(api)
    await api.upload(BPMN, "payments_monthly.bpmn")
    await api.set_clock("2026-10-20T09:00:00+08:00")
    paid = [await _enrol(api, name, amount) for name, amount in [("王一", "620.50"), ("王二", "500")]]
    for enrolment in paid:
        await _account(api, enrolment)
    await api.set_clock("2026-10-28T09:00:00+08:00")
    november = await _build(api, "2026-11-01")
    assert (await api.post("county", f"/payments/batches/{november['id']}/submit")).status_code == 200
    assert (await api.post("finance", f"/payments/batches/{november['id']}/approve")).status_code == 200
    await _account(api, paid[0], number="6228480000111122223333")
    await api.set_clock("2026-11-25T09:00:00+08:00")
    december = await _build(api, "2026-12-01")

    finance = await ui.login("finance")
    await finance.goto(f"{ui.url}/ui/payments/{december['id']}")
    assert "1笔的账户与上次发放时不同" in await finance.locator("#batch-changed").inner_text()
    changed = finance.locator("#items tbody tr.account-changed")
    assert await changed.count() == 1
    row = await changed.inner_text()
    assert "王一" in row and "账户已变更" in row and "**** **** **** 3333" in row, row
    await ui.shot(finance, "payment-batch-account-changed-desktop")

    for viewport, name in ((None, "desktop"), (PHONE, "phone")):
        clerk = await ui.login("county", viewport=viewport)
        await clerk.goto(f"{ui.url}/ui/cases/{paid[0]['id']}")
        history = clerk.locator("#payment-history")
        await history.scroll_into_view_if_needed()
        text = await history.inner_text()
        assert "2026-11" in text and f"第{november['id']}批" in text and "**** **** **** 0123" in text, text
        assert "2026-12" in text and "**** **** **** 3333" in text and "已列入批次（待提交）" in text, text
        assert "已列入批次（财政已审核）" in text, text
        assert "2027-01" in text and "待发放" in text and "620.50元" in text, text
        assert "6228480000111122223333" not in await clerk.content()
        await ui.shot(clerk, f"case-payment-history-{name}")
        if viewport is PHONE:
            assert await clerk.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
