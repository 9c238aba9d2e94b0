"""Public pages in a browser: a person objects to a notice entry and follows the outcome."""

import re

from tests.helpers import id_number
from tests.web_support import PHONE


async def test_a_person_objects_and_follows_the_outcome_answered_in_the_reviewer_ui(live_ui):
    ui = live_ui
    app = await ui.api.apply(applicant={"name": "张三丰", "id_number": id_number(), "phone": "13900000000"})
    await ui.api.to_notice(app["id"])
    person = await ui.page(PHONE)
    await person.goto(ui.url + "/ui/public/notices")
    await person.get_by_label("地区").select_option(label="濉溪县")
    await person.get_by_role("button", name="查看").click()
    await person.get_by_role("link", name="最低生活保障拟批准对象公示").click()
    table = await person.locator("table").inner_text()
    assert "张**" in table and "张三丰" not in table and "340621" not in table  # masked, no ID numbers
    await ui.shot(person, "public-notice-phone")
    # Too short a reason: an inline message, nothing stored.
    await person.get_by_label("异议对象（公示序号）").select_option(index=1)
    await person.get_by_label("异议理由（5至2000字）").fill("不对")
    await person.get_by_role("button", name="提交异议").click()
    await person.locator("#form-error").wait_for()
    assert "异议理由须为5至2000字" in await person.locator("main").inner_text()
    assert await ui.api.count("objections") == 0
    await person.get_by_label("异议理由（5至2000字）").fill("该户家中有经营性车辆，收入不实。")
    await person.get_by_label("联系方式（选填）").fill("13800000000")
    await person.get_by_role("button", name="提交异议").click()
    number = (await person.locator("#objection-number").inner_text()).strip()
    code = (await person.locator("#check-code").inner_text()).strip()
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code), (
        code
    )  # no 0/O, 1/I/L
    await ui.shot(person, "public-receipt")
    await person.reload()  # reloading the receipt shows it again and files nothing twice
    assert (await person.locator("#check-code").inner_text()).strip() == code
    assert await ui.api.count("objections") == 1
    await person.get_by_role("link", name="查询处理结果").click()
    await person.get_by_label("异议编号").fill(f"  {number.lower()} ")  # as typed from paper
    await person.get_by_label("查询码").fill(code.replace("-", "").lower())
    await person.get_by_role("button", name="查询").click()
    assert "已受理，正在核实" in await person.locator("#objection-result").inner_text()
    # A wrong code looks like an unknown number.
    await person.get_by_label("异议编号").fill(number)
    await person.get_by_label("查询码").fill("wrong-code")
    await person.get_by_role("button", name="查询").click()
    assert "没有找到该异议编号" in await person.get_by_role("alert").inner_text()

    # The township re-investigates in the reviewer UI and must answer the objection.
    task = await ui.api.open_task(app["id"], "reinvestigate")
    reviewer = await ui.login("town_a2")  # not town_a: four eyes (town_a decided the initial review)
    await reviewer.goto(ui.url + f"/ui/tasks/{task['id']}")
    await reviewer.get_by_role("button", name="认领").click()
    assert "该户家中有经营性车辆" in await reviewer.locator(".objections").inner_text()
    assert await reviewer.get_by_label("第1项 异议编号").input_value() == number
    await reviewer.get_by_role("button", name="通过（异议不成立，维持拟批准）").click()
    await reviewer.locator("#form-error").wait_for()
    assert (
        "请从选项中选择" in await reviewer.locator("[data-field=objection_outcomes]").inner_text()
        or "请填写" in await reviewer.locator("[data-field=objection_outcomes]").inner_text()
    )
    await reviewer.get_by_role("radio", name="异议不成立").check()
    await reviewer.get_by_label("第1项 答复").fill("经核实，车辆已于去年报废，异议不成立。")
    await ui.shot(reviewer, "task-objection-answer")
    await reviewer.get_by_role("button", name="通过（异议不成立，维持拟批准）").click()
    await reviewer.wait_for_url(ui.url + "/ui/?*")
    await person.goto(ui.url + "/ui/public/objections")
    await person.get_by_label("异议编号").fill(number)
    await person.get_by_label("查询码").fill(code)
    await person.get_by_role("button", name="查询").click()
    result = await person.locator("#objection-result").inner_text()
    assert "异议不成立" in result and "车辆已于去年报废" in result


async def test_the_printable_sheet_and_closed_notices(live_ui):
    ui = live_ui
    app = await ui.api.apply()
    await ui.api.to_notice(app["id"])
    notice_id = (await ui.api.get("admin", "/public/notices")).json()[0]["id"]
    page = await ui.page()
    await page.goto(ui.url + f"/ui/public/notices/{notice_id}/sheet")
    assert "公示期" in await page.locator("body").inner_text()
    await page.emulate_media(media="print")
    await ui.shot(page, "sheet-a4")
    pdf = await page.pdf(format="A4")
    assert pdf[:4] == b"%PDF"
    await ui.api.advance(days=8)
    await page.goto(ui.url + f"/ui/public/notices/{notice_id}")
    assert "公示期已结束" in await page.locator("main").inner_text()
    assert await page.get_by_role("button", name="提交异议").count() == 0
