"""People, not logins, in a browser: the people picker for 转办 at desktop and phone width, the
case timeline naming people and leaving out the service's bookkeeping, and Chinese lane names."""

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD, Api
from tests.web_support import ARTIFACTS, DESKTOP, PHONE

NAMED = {
    "zhang.wei": ("张伟", "township_civil_affairs", "340621100"),
    "li.na": ("李娜", "township_civil_affairs", "340621100"),
}
LOGINS = ("zhang.wei", "li.na", "town_a", "town_a2", "portal", "system")


async def _named_people(api: Api) -> None:
    for login, (name, role, code) in NAMED.items():
        r = await api.post(
            "admin",
            "/admin/users",
            {
                "username": login,
                "password": PASSWORD,
                "display_name": name,
                "grants": [{"role": role, "division_code": code}],
            },
        )
        assert r.status_code == 201, r.text
        await api.login(login)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_transfer_by_choosing_a_person(live_ui, viewport):
    ui = live_ui
    await _named_people(ui.api)
    case = await ui.api.apply()
    task = await ui.api.open_task(case["id"], "accept_application")
    page = await ui.login("zhang.wei", viewport=viewport)
    await page.goto(ui.url + f"/ui/tasks/{task['id']}")
    await page.get_by_role("button", name="认领").click()
    await page.locator("details.action > summary", has_text="转办").click()
    form = page.locator("details.action[open] form")
    picker = form.get_by_label("选择人员")
    # Grouped by place and office; only who may take the task (not the county, another town, myself).
    assert await picker.locator("optgroup").evaluate_all("gs => gs.map(g => g.label)") == [
        "濉溪镇 · 乡镇（街道）民政"
    ]
    options = await picker.locator("option[value]:not([value=''])").all_inner_texts()
    assert options == ["town_a（濉溪镇民政）", "town_a2（濉溪镇民政）", "李娜（濉溪镇民政）"]
    # The filter narrows a long list as one types.
    await form.get_by_label("筛选人员").fill("李")
    hidden = await picker.locator("option[value]:not([value=''])").evaluate_all("os => os.map(o => o.hidden)")
    assert hidden == [True, True, False]
    await picker.select_option(label="李娜（濉溪镇民政）")
    await form.get_by_label("理由").fill("休假，转办")
    # Nothing wider than the screen on a phone.
    assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    await ui.shot(page, "transfer-picker")
    await form.get_by_role("button", name="确认转办").click()
    assert "已转办" in await page.get_by_role("status").inner_text()
    assert (await ui.api.open_task(case["id"]))["assignee"] == "li.na"
    assert "由 李娜（濉溪镇民政） 认领" in await page.locator("dl.summary").first.inner_text()
    # A hand-made form naming someone the picker does not offer is refused as before.
    colleague = await ui.login("li.na", viewport=viewport)
    await colleague.goto(ui.url + f"/ui/tasks/{task['id']}")
    await colleague.evaluate(
        """() => {
        const select = document.querySelector("details.action select[name=username]");
        select.add(new Option("county", "county"));
        select.value = "county";
        select.closest("form").querySelector("textarea[name=reason]").value = "试试";
        select.closest("form").submit();
    }"""
    )
    await colleague.wait_for_load_state()
    assert "该用户没有办理此任务的权限" in await colleague.get_by_role("status").inner_text()
    assert (await ui.api.open_task(case["id"]))["assignee"] == "li.na"


async def test_the_timeline_names_people_and_leaves_out_bookkeeping(live_ui):
    ui = live_ui
    await _named_people(ui.api)
    case = await ui.api.apply()
    await ui.api.step("zhang.wei", case["id"], "accept_application", {"decision": "accept"})
    await ui.api.step("li.na", case["id"], "initial_review", {"decision": "approve", "opinion": "属实"})
    await ui.api.message("objection", case["id"], {"reason": "有经营收入"})
    history = (await ui.api.get("admin", f"/applications/{case['id']}/events")).json()
    internal = {e["type"] for e in history if e["internal"]}
    assert {"timer.scheduled", "message.received"} <= internal

    for viewport, name in ((DESKTOP, "case-people"), (PHONE, "case-people-phone")):
        page = await ui.login("county", viewport=viewport)
        await page.goto(ui.url + f"/ui/cases/{case['id']}")
        timeline = page.locator("ol.timeline")
        text = await timeline.inner_text()
        assert "张伟（濉溪镇民政）" in text and "李娜（濉溪镇民政）" in text and "对接平台（濉溪县）" in text
        assert not [login for login in LOGINS if login in text], text
        shown = set(await timeline.locator("li").evaluate_all("ls => ls.map(l => l.dataset.event)"))
        assert shown and not shown & internal, shown & internal
        record = await page.locator("table.record").inner_text()
        assert "张伟（濉溪镇民政）" in record and "zhang.wei" not in record
        opinions = await page.locator("aside").inner_text()
        assert "李娜（濉溪镇民政）" in opinions and "li.na" not in opinions
        assert await page.locator("#show-internal").count() == 0  # for administrators only
        await ui.shot(page, name)
    # The lanes of the diagram in Chinese.
    await page.goto(ui.url + f"/ui/cases/{case['id']}/diagram.svg")
    lanes = await page.locator("g.lane text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert lanes == ["乡镇（街道）民政", "县级民政"], lanes
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the drawing's top left corner, at its own size
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=str(ARTIFACTS / f"{ui.name}-diagram-lanes.png"), full_page=False)
    # An administrator may see the whole history.
    admin = await ui.login("admin", ADMIN_PASSWORD)
    await admin.goto(ui.url + f"/ui/cases/{case['id']}")
    await admin.locator("#show-internal").click()
    shown = set(await admin.locator("ol.timeline li").evaluate_all("ls => ls.map(l => l.dataset.event)"))
    assert internal <= shown
    # The grants pages name roles in Chinese too, with a table of the keys an administrator types.
    await admin.goto(ui.url + "/ui/admin/users")
    assert "乡镇（街道）民政（濉溪镇）" in await admin.locator("table.tasks").first.inner_text()
    await admin.locator("#role-names > summary").click()
    names = await admin.locator("#role-names").inner_text()
    assert "township_civil_affairs\t乡镇（街道）民政" in names and "county_health\t县级卫健" in names
