"""The inbox in a browser: the search box (a case by number, by name, by ID number), the columns
发起人, 到达时间 and 耗时, the case's current step in 已办 and 我发起的, masking of names a viewer may
not act on, and the same page on a 360-pixel phone without sideways scrolling."""

from tests.helpers import VILLAGE_B, id_number
from tests.web_support import PHONE


async def _apply(ui, who: str, name: str, **kw) -> dict:
    number = id_number()
    created = await ui.api.apply(who, applicant={"name": name, "id_number": number}, **kw)
    return {**created, "id_number": number}


async def _search(page, text: str) -> list[str]:
    await page.get_by_label("查找", exact=True).fill(text)
    await page.get_by_role("button", name="查找", exact=True).click()
    await page.wait_for_load_state()
    return [await row.inner_text() for row in await page.locator("tr[data-task-id]").all()]


async def test_search_columns_and_case_status(live_ui_both):
    ui = live_ui_both
    r = await ui.api.client.patch(
        "/api/v1/admin/users/town_a", json={"display_name": "李科员"}, headers=ui.api.headers["admin"]
    )
    assert r.status_code == 200, r.text
    li = await _apply(ui, "portal", "李超丽")
    wang = await _apply(ui, "portal", "王芳")
    await _apply(ui, "portal", "李超丽", division_code=VILLAGE_B)  # another township: never town_a's
    mine = await _apply(ui, "town_a", "赵小红")  # submitted at the township office: 我发起的
    page = await ui.login("town_a")
    headers = await page.locator("table.tasks thead").inner_text()
    for column in ("发起人", "到达时间", "耗时"):
        assert column in headers
    assert await page.locator("tr[data-task-id]").count() == 3
    row = page.locator("tr[data-task-id]", has_text=li["number"])
    assert (
        await row.locator("td.submitter").inner_text()
    ).strip() == "对接平台（濉溪县）"  # the portal's place
    assert (await row.locator("td.taken").inner_text()).strip() == "0个工作日"
    assert "年" in await row.locator("td.arrived").inner_text()
    own = page.locator("tr[data-task-id]", has_text=mine["number"])
    assert (await own.locator("td.submitter").inner_text()).strip() == "李科员（濉溪镇民政）"  # not the login

    found = await _search(page, li["number"])
    assert len(found) == 1 and li["number"] in found[0] and "李超丽" in found[0]
    found = await _search(page, "超丽")
    assert len(found) == 1 and li["number"] in found[0]
    found = await _search(page, wang["id_number"])
    assert len(found) == 1 and wang["number"] in found[0] and "王芳" in found[0]
    await ui.shot(page, "inbox-search-desktop")
    # The filters keep the search, and 清除 drops it.
    await page.get_by_label("业务").select_option("dibao")
    await page.get_by_role("button", name="筛选").click()
    await page.wait_for_url(lambda url: "program=dibao" in url)
    assert await page.locator("tr[data-task-id]").count() == 1
    await page.get_by_role("link", name="清除").click()
    await page.wait_for_url(lambda url: "q=" not in url)
    assert await page.locator("tr[data-task-id]").count() == 3
    assert await _search(page, "不存在的人") == []
    assert "没有找到与“不存在的人”相符的任务" in await page.locator("main").inner_text()

    # 已办 shows where the case went next; 我发起的 where the submitted case stands.
    await ui.api.step("town_a", li["id"], "accept_application", {"decision": "accept"})
    next_step = await ui.api.open_task(li["id"])
    await page.goto(ui.url + "/ui/?scope=done")
    tag = page.locator("tr[data-task-id]", has_text=li["number"]).locator(".case-status")
    assert (await tag.inner_text()).strip() == next_step["title"]
    await page.goto(ui.url + "/ui/?scope=started")
    tag = page.locator("tr[data-task-id]", has_text=mine["number"]).locator(".case-status")
    assert (await tag.inner_text()).strip() == (await ui.api.open_task(mine["id"]))["title"]

    # The county finds both 李超丽 cases in 全部, their names masked: the steps are the townships'.
    county = await ui.login("county")
    await county.goto(ui.url + "/ui/?scope=all")
    found = await _search(county, "超丽")
    assert len(found) == 2
    assert all("李**" in text and "李超丽" not in text for text in found)

    # On a phone: the search box above the folded filters, rows as cards, nothing wider than the screen.
    phone = await ui.login("town_a", viewport=PHONE)
    assert not await phone.get_by_label("业务").is_visible()
    found = await _search(phone, "王芳")
    assert len(found) == 1 and wang["number"] in found[0]
    assert await phone.get_by_label("查找", exact=True).input_value() == "王芳"
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    await ui.shot(phone, "inbox-search-phone")
