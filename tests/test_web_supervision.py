"""The supervision page in Chromium at desktop and phone width: readable tables (headers on one line, the
place never squeezed by a long name), the overdue list exported as XLSX, and 催办 of selected rows."""

import re
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.helpers import id_number
from tests.web_support import DESKTOP, PHONE

LONG_NAME = "阿卜杜热合曼·买买提艾力·吐尔逊托合提·艾合买提江"

# True when an element shows its text on one line without cutting it: every line box of its text at
# one height (a cell may be taller than its text when a neighbour wraps), nothing overflowing.
ONE_LINE = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
  return tops.size === 1 && el.scrollWidth <= el.clientWidth + 1;
}"""


async def _overdue_cases(ui) -> list[dict]:
    cases = [
        await ui.api.apply(applicant={"name": LONG_NAME, "id_number": id_number(), "phone": "13900000000"}),
        await ui.api.apply(),
    ]
    for app in cases:
        await ui.api.step("town_a", app["id"], "accept_application", {"decision": "accept"})
    await ui.api.advance(days=20)  # both initial reviews are now past their 10 working days
    return cases


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_supervision_tables_export_and_urge(live_ui, viewport, tmp_path):
    ui = live_ui
    cases = await _overdue_cases(ui)
    claimed = await ui.api.open_task(cases[1]["id"], "initial_review")
    assert (await ui.api.post("town_a", f"/tasks/{claimed['id']}/claim")).status_code == 200
    page = await ui.login("county", viewport=viewport)
    await page.goto(ui.url + "/ui/supervision")
    late = page.locator("#urge-form table")
    assert await late.locator("tbody tr").count() == 2
    # Who holds a task: the person and office (people, not logins), or 待认领.
    handlers = sorted(await late.locator("td[data-label=办理人]").all_inner_texts())
    assert handlers == ["town_a（濉溪镇民政）", "待认领"], handlers
    # Readable: the place and the case number each on one line, even beside the long name.
    for cell in await late.locator("td.place").all() + await late.locator("td.number").all():
        assert await cell.evaluate(ONE_LINE), await cell.inner_text()
    if viewport == DESKTOP:  # on a phone the headers give way to labelled cards
        long_name = late.locator("td.applicant", has_text="阿*")
        assert not await long_name.evaluate(ONE_LINE)  # it wraps in its own column (so the check can fail)
        for header in await late.locator("th").all():
            assert await header.evaluate(ONE_LINE), await header.inner_text()
        table_box = await late.bounding_box()
        assert table_box["width"] <= viewport["width"]  # no sideways scrolling at desktop width
    await ui.shot(page, "supervision")
    # The export: the same tasks as the API's JSON, in its order.
    async with page.expect_download() as download:
        await page.get_by_role("link", name="导出超期清单（Excel）").click()
    saved = tmp_path / "overdue.xlsx"
    await (await download.value).save_as(saved)
    rows = list(load_workbook(BytesIO(saved.read_bytes()))["超期任务"].iter_rows(values_only=True))
    view = (await ui.api.get("county", "/supervision/overdue")).json()
    assert [r[0] for r in rows[1:]] == [t["case_number"] for t in view["items"]] and len(rows) == 3
    assert rows[0][:4] == ("案件编号", "业务", "环节", "所在地") and rows[1][3] == "濉溪镇"
    # 催办 of one selected row: audited as the county's, the same event as on the task page.
    first = late.locator("tbody tr").first
    task_id = await first.get_attribute("data-task-id")
    app_id = next(t["application_id"] for t in view["items"] if t["id"] == task_id)
    await first.locator("input[name=task_id]").check()
    await page.get_by_label("催办说明（选填）").fill("请本周内办结")
    await page.get_by_role("button", name="催办所选").click()
    await page.wait_for_url(re.compile(r".*/ui/supervision\?.*msg=.*"))
    assert "已催办1件" in await page.get_by_role("status").inner_text()
    await ui.shot(page, "supervision-urged")
    await page.reload()  # a GET page: reloading urges nothing again
    urged = await ui.api.events(app_id, "task.urged")
    assert len(urged) == 1 and urged[0]["actor"] == "county" and urged[0]["data"]["note"] == "请本周内办结"
    other = next(c["id"] for c in cases if c["id"] != app_id)
    assert await ui.api.events(other, "task.urged") == []
    # The same row again today: refused by the same rule as everywhere (once a working day).
    await page.locator(f"tr[data-task-id='{task_id}'] input[name=task_id]").check()
    await page.get_by_role("button", name="催办所选").click()
    await page.wait_for_url(re.compile(r".*msg=.*"))
    status = await page.get_by_role("status").inner_text()
    assert "已催办0件" in status and "今天已经催办过" in status, status
    assert len(await ui.api.events(app_id, "task.urged")) == 1


async def test_who_may_not_export_or_urge_from_the_supervision_page(live_ui):
    ui = live_ui
    await _overdue_cases(ui)
    view = (await ui.api.get("county", "/supervision/overdue")).json()
    task_ids = [t["id"] for t in view["items"]]
    # A township office (peers do not supervise peers) and another county's office.
    for who in ("town_a", "other_county"):
        page = await ui.login(who)
        csrf = await page.locator("form.logout input[name=csrf_token]").get_attribute("value")
        r = await page.request.post(
            ui.url + "/ui/supervision/urge", form={"csrf_token": csrf, "task_id": task_ids[0]}
        )
        if who == "town_a":  # not a supervisor at all: refused outright, on a GET page
            assert r.status == 403 and "督办页面仅限" in await r.text(), who
            export = await page.request.get(ui.url + "/ui/supervision/overdue.xlsx")
            assert export.status == 403
        else:  # a supervisor elsewhere: the urge is refused by the task's own rules
            assert r.status == 200 and "已催办0件" in await r.text(), who
            export = await page.request.get(ui.url + "/ui/supervision/overdue.xlsx")
            assert export.status == 200
            assert len(list(load_workbook(BytesIO(await export.body()))["超期任务"].iter_rows())) == 1
    stranger = await ui.page()
    r = await stranger.request.get(ui.url + "/ui/supervision/overdue.xlsx", max_redirects=0)
    assert r.status == 303 and r.headers["location"].startswith("/ui/login")
    for task_id in task_ids:
        app_id = next(t["application_id"] for t in view["items"] if t["id"] == task_id)
        assert await ui.api.events(app_id, "task.urged") == []
