"""银行账户变更 and 发放对账 in a browser (/ui/payments/accounts, /ui/payments/reconciliation): the
county office proposes a recipient's account, the county finance office confirms one and refuses
another with a reason; the reconciliation page shows the API's numbers, each linking to its payments.
A township reviewer, another county's finance office and a stranger are refused."""

from decimal import Decimal

import pytest

from app.web.render import yuan
from tests.test_payment_bank_files import CSV, _csv_rows, _export, _result_csv, _results
from tests.test_payments import BPMN, _account, _build, _enrol, _staff
from tests.web_support import PHONE

pytestmark = pytest.mark.dates

NEW = "6228480000111122223333"
FIGURES = ("scheduled", "paid", "failed", "pending")


async def _csrf(page) -> str:
    return await page.locator("input[name=csrf_token]").first.get_attribute("value")


async def test_an_account_proposed_confirmed_and_another_refused_in_the_browser(live_ui):
    ui, api = live_ui, live_ui.api
    await _staff(api)
    await api.upload(BPMN, "payments_monthly.bpmn")
    await api.set_clock("2026-10-20T09:00:00+08:00")
    wang = await _enrol(api, "王一", "620.50")

    clerk = await ui.login("county")
    await clerk.get_by_role("link", name="资金发放").click()
    await clerk.get_by_role("link", name="银行账户变更").click()
    form = clerk.get_by_role("form", name="申请变更银行账号")
    await form.get_by_label("身份证号").fill(wang["person"])
    await form.get_by_label("开户人姓名").fill("李四")  # not the recipient
    await form.get_by_label("开户银行").fill("濉溪农商银行")
    await form.get_by_label("银行账号").fill(NEW)
    await form.get_by_role("button", name="提交申请").click()
    assert "开户人姓名与申请书记载的救助对象姓名不一致" in await clerk.locator("#account-error").inner_text()
    assert await form.get_by_label("开户银行").input_value() == "濉溪农商银行"  # kept; the number is not
    assert await form.get_by_label("银行账号").input_value() == ""
    assert await api.count("bank_accounts", f"person_id_number = '{wang['person']}'") == 0
    await form.get_by_label("开户人姓名").fill("王一")
    await form.get_by_label("银行账号").fill(NEW)
    await form.get_by_role("button", name="提交申请").click()
    assert "尾号3333" in await clerk.get_by_role("status").inner_text()
    waiting = await clerk.locator("#waiting tbody").inner_text()
    assert "王一" in waiting and "**** **** **** 3333" in waiting and "首次登记" in waiting, waiting
    assert NEW not in await clerk.content()
    # The preparing office has no confirm button, and a forged confirmation is refused in words.
    assert await clerk.get_by_role("button", name="确认").count() == 0
    proposal = (await api.get("finance", "/payments/account-changes")).json()[0]
    forged = await clerk.request.post(
        f"{ui.url}/ui/payments/accounts/{proposal['id']}/confirm", form={"csrf_token": await _csrf(clerk)}
    )
    assert forged.status == 403 and "只有县级财政" in await forged.text()

    # Who may not: a township reviewer, another county's finance office, a stranger.
    town = await ui.login("town_a")
    await town.goto(ui.url + "/ui/payments/accounts")
    assert await town.locator("#waiting").count() == 0
    assert await town.get_by_role("form", name="申请变更银行账号").count() == 0
    r = await town.request.post(
        f"{ui.url}/ui/payments/accounts/{proposal['id']}/confirm", form={"csrf_token": await _csrf(town)}
    )
    assert r.status == 404, r.status  # it is not a change of anyone town_a may read
    xiao = await ui.login("finance_xiao")
    await xiao.goto(ui.url + "/ui/payments/accounts")
    assert await xiao.locator("#waiting").count() == 0
    r = await xiao.request.post(
        f"{ui.url}/ui/payments/accounts/{proposal['id']}/confirm", form={"csrf_token": await _csrf(xiao)}
    )
    assert r.status == 404
    stranger = await ui.page()
    r = await stranger.request.post(
        f"{ui.url}/ui/payments/accounts/{proposal['id']}/confirm", form={"csrf_token": "x"}, max_redirects=0
    )
    assert r.status == 303 and r.headers["location"].startswith("/ui/problem?draft=")
    await stranger.goto(ui.url + "/ui/payments/accounts")
    assert "/ui/login" in stranger.url
    assert (await api.get("finance", f"/payments/account-changes/{proposal['id']}")).json()[
        "status"
    ] == "proposed"

    finance = await ui.login("finance")
    await finance.goto(ui.url + "/ui/payments/accounts")
    await ui.shot(finance, "payment-accounts-waiting-desktop")
    await finance.locator(f"#change-{proposal['id']}").get_by_role("button", name="确认").click()
    assert "已确认银行账号变更" in await finance.get_by_role("status").inner_text()
    done = await finance.locator(f"#done-{proposal['id']}").inner_text()
    assert "finance确认" in done and "现用账户" in done, done
    current = (await api.get("finance", "/payments/accounts", id_number=wang["person"])).json()
    assert current["id"] == proposal["id"] and current["in_force"]

    # A second change, refused with a reason at 360 px: the account in force stays.
    await form.get_by_label("身份证号").fill(wang["person"])
    await form.get_by_label("开户人姓名").fill("王一")
    await form.get_by_label("开户银行").fill("濉溪农商银行")
    await form.get_by_label("银行账号").fill("6228480000555566667777")
    await form.get_by_role("button", name="提交申请").click()
    second = (await api.get("finance", "/payments/account-changes")).json()[0]
    phone = await ui.login("finance", viewport=PHONE)
    await phone.goto(ui.url + "/ui/payments/accounts")
    row = phone.locator(f"#change-{second['id']}")
    assert "**** **** **** 3333" in await row.inner_text()  # the account it would replace
    await row.get_by_label("退回理由").fill("请本人到柜台核实")
    await row.get_by_role("button", name="退回").click()
    assert "已退回银行账号变更" in await phone.get_by_role("status").inner_text()
    assert "请本人到柜台核实" in await phone.locator(f"#done-{second['id']}").inner_text()
    await ui.shot(phone, "payment-accounts-phone")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    current = (await api.get("finance", "/payments/accounts", id_number=wang["person"])).json()
    assert current["id"] == proposal["id"]
    await clerk.reload()
    assert "请本人到柜台核实" in await clerk.locator(f"#done-{second['id']}").inner_text()
    await ui.shot(clerk, "payment-accounts-desktop")


async def test_the_reconciliation_page_shows_the_apis_numbers(live_ui):
    ui, api = live_ui, live_ui.api
    await _staff(api)
    await api.upload(BPMN, "payments_monthly.bpmn")
    await api.set_clock("2026-10-20T09:00:00+08:00")
    people = [await _enrol(api, name, amount) for name, amount in [("王一", "620.50"), ("王二", "500")]]
    for enrolment in people:
        await _account(api, enrolment)
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _build(api, "2026-11-01")
    assert (await api.post("county", f"/payments/batches/{batch['id']}/submit")).status_code == 200
    assert (await api.post("finance", f"/payments/batches/{batch['id']}/approve")).status_code == 200
    # To the bank and back: 王一 paid, 王二 refused by the bank.
    exported = {row["收款户名"]: row for row in _csv_rows((await _export(api, batch["id"])).content)}
    result = _result_csv(
        [
            {
                "reference": exported["王一"]["业务参考号"],
                "amount": exported["王一"]["金额（元）"],
                "status": "成功",
                "bank_reference": "B20261101001",
                "date": "2026-11-01",
            },
            {
                "reference": exported["王二"]["业务参考号"],
                "amount": exported["王二"]["金额（元）"],
                "status": "失败",
                "reason_code": "E01",
                "reason_text": "账户已销户",
            },
        ]
    )
    assert (await _results(api, batch["id"], result, template=CSV)).status_code == 200
    query = {"county": "340621", "month": "2026-11"}
    expected = (await api.get("finance", "/payments/reconciliation", **query)).json()
    assert Decimal(expected["totals"]["scheduled"]["amount"]) == Decimal("1120.50")
    assert (expected["totals"]["paid"]["count"], expected["totals"]["failed"]["count"]) == (1, 1)

    def cells(figures: dict) -> list[str]:
        return [f"{figures[f]['count']}笔 {yuan(Decimal(figures[f]['amount']))}" for f in FIGURES]

    for viewport, name in ((None, "desktop"), (PHONE, "phone")):
        finance = await ui.login("finance", viewport=viewport)
        await finance.goto(ui.url + "/ui/payments")
        await finance.get_by_role("link", name="发放对账").click()
        await finance.get_by_label("月份").fill("2026-11")
        await finance.get_by_role("button", name="查看").click()
        # Every number equals the API's, in the order 应发, 已发放, 发放失败, 待回盘.
        assert await finance.locator("#totals tbody a").all_inner_texts() == cells(expected["totals"])
        assert cells(expected["totals"])[:3] == ["2笔 1,120.50元", "1笔 620.50元", "1笔 500.00元"]
        (row,) = expected["batches"]
        assert await finance.locator("#by-batch tbody a").all_inner_texts() == [
            f"第{batch['id']}批",
            *cells(row),
        ]
        shown = finance.locator("#by-place tbody tr")
        assert await shown.count() == len(expected["places"]) >= 1
        for i, place in enumerate(expected["places"]):
            assert place["name"] in await shown.nth(i).inner_text()
            assert await shown.nth(i).locator("a").all_inner_texts() == cells(place)
        await ui.shot(finance, f"payment-reconciliation-{name}")
        if viewport is PHONE:
            assert await finance.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # A number links to the payments behind it, masked.
    await finance.locator("#totals tbody a").nth(2).click()  # 发放失败
    failed = await finance.locator("#recon-items tbody").inner_text()
    assert "王二" in failed and "账户已销户" in failed and "王一" not in failed, failed
    await finance.go_back()
    await finance.locator("#totals tbody a").first.click()
    listed = await finance.locator("#recon-items tbody").inner_text()
    assert "王一" in listed and "王二" in listed and "**** **** **** 0123" in listed, listed
    assert "6217001234567890123" not in await finance.content()
    behind = (await api.get("finance", "/payments/reconciliation/items", **query)).json()
    assert await finance.locator("#recon-items tbody tr").count() == len(behind) == 2
    await ui.shot(finance, "payment-reconciliation-items-phone")

    # Who may not: a township reviewer, another county's finance office, a stranger.
    for who in ("town_a", "finance_xiao"):
        page = await ui.login(who)
        r = await page.goto(f"{ui.url}/ui/payments/reconciliation?county=340621&month=2026-11")
        assert r.status == 403, who
        assert "1,120.50" not in await page.content()
        r = await page.goto(f"{ui.url}/ui/payments/reconciliation/items?county=340621&month=2026-11")
        assert r.status == 403 and "王一" not in await page.content(), who
    stranger = await ui.page()
    await stranger.goto(f"{ui.url}/ui/payments/reconciliation?county=340621&month=2026-11")
    assert "/ui/login" in stranger.url
