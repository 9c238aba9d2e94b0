"""The modeler's properties panel in Chromium: an administrator changes a step's role and time
limit beside the drawing, 校验 passes, 上传 deploys them and a case started on the new version
puts the step in the new role's inbox; a role AidFlow refuses is reported by 校验 and not
uploaded; the panel's other entries (lane role, timer, condition, outcome) write what AidFlow
reads; the bundle is served as built, with its licences linked from the page."""

import hashlib

from lxml import etree

from app.config import PROJECT_ROOT
from tests.conftest import ADMIN_PASSWORD
from tests.test_web_modeler import _ready, _shape, _status
from tests.web_support import DESKTOP, PHONE

PANEL = "bpmn-js-properties-panel-5.65.3"
ASSETS = PROJECT_ROOT / "app" / "web" / "static" / PANEL
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}


async def _open(ui, viewport=DESKTOP):
    page = await ui.login("admin", ADMIN_PASSWORD, viewport=viewport)
    await page.goto(ui.url + "/ui/admin/processes/dibao/edit")
    await _ready(page)
    return page


async def _select(page, element_id: str) -> None:
    """Clicks the element where a person would: a shape inside, a flow on a part of its line that
    no other flow shares (the first point along it where the element itself is on top)."""
    shape = _shape(page, element_id)
    await shape.scroll_into_view_if_needed()
    point = await shape.locator(".djs-hit").first.evaluate(
        """(e, id) => {
          const on = (p) => {
            const top = document.elementFromPoint(p.x, p.y);
            return top && top.closest("[data-element-id]")?.getAttribute("data-element-id") === id;
          };
          if (e.tagName !== "path") {
            const r = e.getBoundingClientRect();
            return {x: r.x + r.width / 2, y: r.y + r.height / 2};
          }
          const m = e.getScreenCTM(), length = e.getTotalLength();
          for (const share of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.1, 0.9]) {
            const p = e.getPointAtLength(length * share);
            const q = {x: p.x * m.a + p.y * m.c + m.e, y: p.x * m.b + p.y * m.d + m.f};
            if (on(q)) { return q; }
          }
          return null;
        }""",
        element_id,
    )
    assert point, element_id
    await page.mouse.click(point["x"], point["y"])
    await page.wait_for_function(
        "id => document.querySelector(`.modeler-canvas g.djs-element[data-element-id='${id}']`)"
        ".classList.contains('selected')",
        arg=element_id,
    )


async def _version_xml(ui, version: int) -> etree._Element:
    r = await ui.api.get("admin", f"/process-definitions/dibao/versions/{version}/xml")
    assert r.status_code == 200, r.text
    return etree.fromstring(r.content)


def _property(root, element_id: str, name: str) -> str | None:
    found = root.xpath(
        f"//*[@id='{element_id}']/bpmn:extensionElements/*/*[@name='{name}']/@value", namespaces=NS
    )
    return found[0] if found else None


async def test_a_step_changed_in_the_panel_runs_in_its_new_role(live_ui_both):
    ui = live_ui_both  # deployed and run on both databases
    page = await _open(ui)
    panel = page.locator(".modeler-properties")
    assert "协作图" in await panel.inner_text()  # nothing selected: the drawing as a whole
    await _select(page, "accept_application")
    assert "用户任务" in await panel.inner_text()
    role = panel.get_by_label("办理角色")
    assert await role.input_value() == "township_civil_affairs"
    await role.fill("county_civil_affairs")
    assert "即县级民政" in await panel.inner_text()
    limit = panel.get_by_label("办理时限（工作日）")
    assert await limit.input_value() == ""
    await limit.fill("7")
    await panel.get_by_label("环节名称").fill("受理（县级）")
    # A step that had a limit shows its working days as a number.
    await _select(page, "initial_review")
    assert await panel.get_by_label("办理时限（工作日）").input_value() == "10"
    assert await panel.get_by_label("表单").input_value() == "review.json"

    await page.get_by_role("button", name="校验").click()
    assert "校验通过" in await _status(page, "校验通过")
    await ui.shot(page, "modeler-panel-step")
    await page.get_by_label("修订说明（选填）").fill("受理改由县级办理，时限7个工作日")
    await page.get_by_role("button", name="上传").click()
    await _status(page, "已部署：最低生活保障第2版")

    root = await _version_xml(ui, 2)
    task = root.xpath("//bpmn:userTask[@id='accept_application']", namespaces=NS)[0]
    assert task.get(f"{{{NS['camunda']}}}candidateGroups") == "county_civil_affairs"
    assert task.get("name") == "受理（县级）"
    assert _property(root, "accept_application", "time_limit") == "7 working days"
    # What the panel did not touch is as it was: the step's other properties, a neighbour's limit.
    assert _property(root, "accept_application", "form") == "accept_application.json"
    assert _property(root, "accept_application", "separation_of_duties") == "none"
    assert _property(root, "initial_review", "time_limit") == "10 working days"

    app = await ui.api.apply()
    task = await ui.api.open_task(app["id"], "accept_application")
    assert (task["title"], task["role"], task["division_code"]) == (
        "受理（县级）",
        "county_civil_affairs",
        "340621",
    )
    assert task["due_at"] and task["working_days_left"] == 7
    county = (await ui.api.get("county", "/tasks")).json()["items"]
    assert [t["application_id"] for t in county if t["application_id"] == app["id"]] == [app["id"]]
    township = (await ui.api.get("town_a", "/tasks")).json()["items"]
    assert all(t["application_id"] != app["id"] for t in township)


async def test_a_role_aidflow_refuses_is_reported_and_not_uploaded(live_ui):
    ui = live_ui
    page = await _open(ui)
    panel = page.locator(".modeler-properties")
    await _select(page, "initial_review")
    await panel.get_by_label("办理角色").fill("street_office")
    assert "即" not in await panel.locator('[data-entry-id="aidflow-role"]').inner_text()
    await page.get_by_role("button", name="校验").click()
    await _status(page, "发现 \\d+ 个问题")
    listed = await page.locator("#modeler-problems").inner_text()
    assert "泳道或候选组不是有效的角色" in listed and "initial_review" in listed, listed
    await page.get_by_role("button", name="上传").click()
    await _status(page, "未部署")
    assert [v["version"] for v in (await ui.api.get("admin", "/process-definitions/dibao")).json()] == [1]
    await ui.shot(page, "modeler-panel-refused")


async def test_lane_timer_condition_and_outcome_written_by_the_panel(live_ui):
    ui = live_ui
    page = await _open(ui)
    panel = page.locator(".modeler-properties")
    await _select(page, "lane_county")
    assert await panel.get_by_label("泳道角色").input_value() == "county_civil_affairs"
    await panel.get_by_label("泳道角色").fill("city_civil_affairs")
    await panel.get_by_label("泳道名称").fill("市级民政")
    await _select(page, "notice_period_ended")
    assert await panel.get_by_label("定时", exact=True).input_value() == "P7D"
    await panel.get_by_label("定时", exact=True).fill("P10D")
    await _select(page, "flow_incomplete")
    await panel.get_by_label("条件").fill('decision == "incomplete" and True')
    await _select(page, "end_refused")
    assert await panel.get_by_label("结束结果").input_value() == "refused"
    await panel.get_by_label("结束结果").select_option("withdrawn")
    await page.get_by_role("button", name="上传").click()
    await _status(page, "已部署：最低生活保障第2版")

    root = await _version_xml(ui, 2)
    assert _property(root, "lane_county", "role") == "city_civil_affairs"
    assert root.xpath("//bpmn:lane[@id='lane_county']/@name", namespaces=NS) == ["市级民政"]
    assert root.xpath("//*[@id='def_notice_period']/bpmn:timeDuration/text()", namespaces=NS) == ['"P10D"']
    condition = root.xpath("//*[@id='flow_incomplete']/bpmn:conditionExpression/text()", namespaces=NS)
    assert condition == ['decision == "incomplete" and True']
    assert _property(root, "end_refused", "outcome") == "withdrawn"


async def test_a_change_keeps_the_elements_the_panel_does_not_show(live_ui):
    """minban's business rule task names its decision table in a spiffworkflow element the panel
    has no entry for: it survives an edit of the step beside it."""
    ui = live_ui
    page = await ui.login("admin", ADMIN_PASSWORD)
    await page.goto(ui.url + "/ui/admin/processes/minban/edit")
    await _ready(page)
    await _select(page, "township_initial_review")
    await page.locator(".modeler-properties").get_by_label("办理时限（工作日）").fill("by day 20")
    await page.get_by_role("button", name="上传").click()
    await _status(page, "已部署：.*第2版")
    r = await ui.api.get("admin", "/process-definitions/minban/versions/2/xml")
    root = etree.fromstring(r.content)
    assert _property(root, "township_initial_review", "time_limit") == "by day 20"
    called = root.xpath(
        "//*[@id='monthly_amount_by_years']/bpmn:extensionElements/spiffworkflow:calledDecisionId/text()",
        namespaces=NS,
    )
    assert called == ["minban_amount"]


async def test_the_panel_bundle_is_served_as_built_with_its_licences(live_ui):
    """Each committed file as scripts/bpmn_panel/build.mjs wrote it (SHA256SUMS), served, and the
    licences linked from the editor page like bpmn-js's."""
    ui = live_ui
    sums = (ASSETS / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ./")[1]: line.split("  ")[0] for line in sums}
    on_disk = {p.name for p in ASSETS.iterdir() if p.is_file()}
    assert on_disk - {"SHA256SUMS"} == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    for asset, text in (
        ("LICENSE", "camunda Services GmbH"),
        ("THIRD_PARTY_LICENSES.txt", "preact@"),
        ("aidflow-properties-panel.min.js", "bpmn-js-properties-panel v5.65.3"),
        ("properties-panel.css", ".bio-properties-panel"),
    ):
        r = await ui.api.client.get(f"/ui/static/{PANEL}/{asset}")
        assert r.status_code == 200 and text in r.text, asset
    page = await _open(ui, PHONE)
    # On a phone the panel goes below the drawing, as wide as it.
    canvas = await page.locator(".modeler-canvas").bounding_box()
    panel = await page.locator(".modeler-properties").bounding_box()
    assert panel["y"] >= canvas["y"] + canvas["height"] and panel["width"] == canvas["width"]
    links = page.locator(".modeler-licences a")
    hrefs = [await links.nth(i).get_attribute("href") for i in range(await links.count())]
    assert hrefs == [
        "/ui/static/bpmn-js-18.31.1/LICENSE",
        f"/ui/static/{PANEL}/LICENSE",
        f"/ui/static/{PANEL}/THIRD_PARTY_LICENSES.txt",
    ]
    for href in hrefs:
        assert (await page.request.get(ui.url + href)).status == 200, href
