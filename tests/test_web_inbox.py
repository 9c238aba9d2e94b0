"""The inbox in a browser: tabs and counts, filters, deadlines, claim and bulk claim, saved views."""

import re

from tests.helpers import VILLAGE_B
from tests.web_support import PHONE


async def _tab_count(page, scope: str) -> str:
    return (await page.locator(f".tabs a[data-scope={scope}] .count").inner_text()).strip()


async def test_inbox_tabs_filters_and_bulk_claim(live_ui_both):
    ui = live_ui_both
    mine = [await ui.api.apply() for _ in range(3)]
    await ui.api.apply(division_code=VILLAGE_B)  # another township's case: never in town_a's inbox
    await ui.api.apply(program="tekun", data={"household_size": 1})
    page = await ui.login("town_a")
    assert await _tab_count(page, "candidate") == "4"
    assert await page.locator("tr[data-task-id]").count() == 4
    # Filter by program: only 低保.
    await page.get_by_label("业务").select_option("dibao")
    await page.get_by_role("button", name="筛选").click()
    await page.wait_for_url(re.compile(r".*program=dibao.*"))
    assert await page.locator("tr[data-task-id]").count() == 3
    assert await _tab_count(page, "candidate") == "4"  # tab counts are per tab, whatever the filters
    await ui.shot(page, "inbox-desktop")
    # Tick two rows and claim them at once.
    rows = page.locator("tr[data-task-id]")
    await rows.nth(0).get_by_role("checkbox").check()
    await rows.nth(1).get_by_role("checkbox").check()
    await page.get_by_role("button", name="认领所选").click()
    await page.get_by_role("status").wait_for()
    assert "已认领2件" in await page.get_by_role("status").inner_text()
    assert "program=dibao" in page.url  # the filters survive the action
    assert await _tab_count(page, "mine") == "2" and await _tab_count(page, "candidate") == "2"
    # Every row's own button reads 认领; it claims that task and opens it.
    last = page.locator("tr[data-task-id]").first
    task_id = await last.get_attribute("data-task-id")
    await last.get_by_role("button", name="认领").click()
    await page.wait_for_url(ui.url + f"/ui/tasks/{task_id}")
    claimed = {t["assignee"] for a in mine for t in (await ui.api.application(a["id"]))["open_tasks"]}
    assert claimed == {"town_a"}
    # 已办 and 抄送我的 are empty for now.
    await page.goto(ui.url + "/ui/?scope=done")
    assert "还没有您办结的任务" in await page.locator("main").inner_text()
    await page.goto(ui.url + "/ui/?scope=cc")
    assert "没有抄送给您的案件" in await page.locator("main").inner_text()


async def test_deadlines_show_working_days_and_overdue_in_red(live_ui):
    ui = live_ui
    # A year of our own: 1-7 October off, Saturday 12 October worked (调休); the clock on Monday 30 September.
    await ui.api.load_year(2030, holidays=[f"2030-10-0{d}" for d in range(1, 8)], working_days=["2030-10-12"])
    await ui.api.set_clock("2030-09-30T09:00:00+08:00")
    app = await ui.api.apply()
    await ui.api.step("town_a", app["id"], "accept_application", {"decision": "accept"})
    page = await ui.login("town_a")
    row = page.locator("tr[data-task-id]").first
    # 10 working days from 30 September: 8-12 October (12th worked) and 14-18 October.
    assert "2030年10月18日" in await row.inner_text()
    assert "剩余10个工作日" in await row.inner_text()
    await ui.api.advance(days=24)  # Thursday 24 October: four working days late
    await page.reload()
    late = page.locator("tr[data-task-id] .overdue")
    assert await late.inner_text() == "已超期4个工作日"
    color = await late.evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(198, 40, 40)"
    await page.get_by_label("只看超期").check()
    await page.get_by_role("button", name="筛选").click()
    assert await page.locator("tr[data-task-id]").count() == 1


async def test_saved_views_and_phone_layout(live_ui):
    ui = live_ui
    for _ in range(2):
        await ui.api.apply()
    page = await ui.login("town_a", viewport=PHONE)
    # On the phone the rows come first; the filters are folded away until asked for.
    assert not await page.get_by_label("业务").is_visible()
    assert await page.locator("tr[data-task-id]").first.is_visible()
    await page.locator("summary", has_text="筛选与排序").click()
    await page.get_by_label("业务").select_option("dibao")
    await page.get_by_role("button", name="筛选").click()
    await page.locator("summary", has_text="常用视图").click()
    await page.get_by_label("把当前筛选保存为").fill("低保待认领")
    await page.get_by_role("button", name="保存视图").click()
    await page.get_by_role("status").wait_for()
    await page.goto(ui.url + "/ui/")
    await page.get_by_role("link", name="低保待认领").click()
    await page.wait_for_url(re.compile(r".*program=dibao.*"))
    # The layout fits the phone: no sideways scrolling, rows as cards with a claim button each.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    box = await page.locator("tr[data-task-id]").first.get_by_role("button", name="认领").bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 32
    await ui.shot(page, "inbox-phone")
