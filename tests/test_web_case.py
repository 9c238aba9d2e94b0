"""The case page in a browser: where the case stands, its diagram, notices and timeline."""

import re

import pytest

from tests.helpers import id_number
from tests.web_support import DESKTOP, PHONE

# How many lines a cell's text takes.
LINES = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
}"""


async def test_case_page_shows_timeline_diagram_and_notice(live_ui):
    ui = live_ui
    app = await ui.api.apply()
    await ui.api.to_notice(app["id"])
    page = await ui.login("county")
    await page.goto(ui.url + f"/ui/cases/{app['id']}")
    now = page.locator("section", has=page.get_by_role("heading", name="当前环节"))
    assert re.search(r"公示中，\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d期满", await now.inner_text())
    timeline = page.locator("ol.timeline")
    assert await timeline.locator("[data-event='task.completed']").count() == 2
    assert "公示开始" in await timeline.inner_text() and "情况属实" in await timeline.inner_text()
    # The diagram (bpmn-js, see test_web_process_viewer.py) draws; the server-drawn SVG, for pages
    # without scripts, marks the steps done and the notice as the current position.
    await page.wait_for_selector(".process-viewer.viewer-ready")
    assert await page.get_by_role("img", name=re.compile("最低生活保障流程图")).is_visible()
    svg = await (await page.request.get(ui.url + f"/ui/cases/{app['id']}/diagram.svg")).text()
    assert 'data-element-id="initial_review" class="userTask done"' in svg
    assert re.search(r'data-element-id="(public_notice|notice_period_ended)" class="[a-zA-Z]+ current"', svg)
    # The notice entry and the A4 sheet; the county office reads the person (民政 works on 低保,
    # cases.privacy) though the step is not its own.
    notices = page.locator("section", has=page.get_by_role("heading", name="公示与异议"))
    assert "公示中" in await notices.inner_text()
    assert "张三" in await page.locator("#case-h + dl").inner_text()
    await ui.shot(page, "case")
    async with page.expect_popup() as popup:
        await notices.get_by_role("link", name="打印公示表（A4）").click()
    sheet = await popup.value
    await sheet.wait_for_load_state()
    assert "最低生活保障拟批准对象公示" in await sheet.locator("h1").inner_text()


async def test_a_case_outside_the_reviewers_places_is_not_found(live_ui):
    ui = live_ui
    app = await ui.api.apply()
    page = await ui.login("other_county")
    response = await page.goto(ui.url + f"/ui/cases/{app['id']}")
    assert response.status == 404
    assert "找不到该案件" in await page.locator("main").inner_text()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_case_query_page_finds_a_case_in_its_notice_by_name(live_ui, viewport):
    ui = live_ui
    case = await ui.api.apply(
        applicant={"name": "欧阳娜娜", "id_number": id_number(), "phone": "13900000000"}
    )
    await ui.api.to_notice(case["id"])  # no open step: not in any inbox
    page = await ui.login("county", viewport=viewport)
    await page.goto(ui.url + "/ui/cases")  # 案件查询 (in the main navigation)
    await page.get_by_label("身份证号、案件编号或姓名").fill("娜娜")
    await page.get_by_role("button", name="查询").click()
    await page.get_by_role("link", name=case["number"]).click()
    await page.wait_for_url(f"{ui.url}/ui/cases/{case['id']}")
    # 审批记录: each step done so far with who did it (person and office), its result and opinion.
    rows = page.locator("table.record tbody tr")
    assert await rows.count() == 2
    accepted, reviewed = await rows.nth(0).inner_text(), await rows.nth(1).inner_text()
    assert "受理" in accepted and "town_a（濉溪镇民政）" in accepted, accepted
    assert "情况属实" in reviewed and "个工作日" in reviewed, reviewed
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if viewport == DESKTOP:  # headers and results on one line (on a phone rows become labelled cards)
        cells = page.locator("table.record th, table.record td[data-label=结果]")
        for cell in await cells.all():
            assert await cell.evaluate(LINES) == 1, await cell.inner_text()
    await ui.shot(page, "case-record")
    stranger = await ui.login("other_county")
    await stranger.goto(f"{ui.url}/ui/cases?q=%E5%A8%9C%E5%A8%9C")
    assert "没有符合条件的案件" in await stranger.locator("main").inner_text()
