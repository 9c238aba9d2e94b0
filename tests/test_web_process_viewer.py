"""The process viewer (bpmn-js, served by the service) in Chromium: a case's progress marked on its
process, and every shipped process opened on the admin page with its lanes in Chinese."""

import re

import pytest
from lxml import etree

from app.config import PROJECT_ROOT
from app.diagrams import BPMN, EVENTS, GATEWAYS, TASKS
from app.domain.people.roles import role_label
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD
from tests.web_support import DESKTOP, PHONE

ASSETS = "/ui/static/bpmn-js-18.31.1"
SHIPPED = sorted((PROJECT_ROOT / "processes").glob("*.bpmn"))


async def _drawn(page) -> None:
    """Waits for the viewer to draw; fails with bpmn-js's own message if it could not."""
    viewer = page.locator(".process-viewer")
    await page.wait_for_selector(".process-viewer.viewer-ready, .process-viewer[data-viewer-error]")
    assert await viewer.get_attribute("data-viewer-error") is None
    assert await viewer.locator(".viewer-canvas").is_visible()
    assert not await viewer.locator(".diagram img").is_visible()  # the SVG image is only the fallback


async def _markers(page, element_id: str) -> list[str]:
    return (
        await page.locator(f'.viewer-canvas g.djs-element[data-element-id="{element_id}"]').get_attribute(
            "class"
        )
    ).split()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_case_page_marks_done_current_and_notice_steps(live_ui, viewport):
    ui = live_ui
    app = await ui.api.apply()
    await ui.api.to_notice(app["id"])
    page = await ui.login("county", viewport=viewport)
    response = await page.goto(ui.url + f"/ui/cases/{app['id']}")
    # Still only our own scripts: the viewer is served by the service.
    assert "script-src 'self';" in response.headers["content-security-policy"]
    await _drawn(page)
    assert "step-done" in await _markers(page, "accept_application")
    assert "step-done" in await _markers(page, "initial_review")
    assert "step-notice" in await _markers(page, "public_notice")
    # The case waits at the notice: its 7 days run (the timer belongs to the gateway).
    assert "step-current" in await _markers(page, "public_notice")
    for untouched in ("county_confirm", "reinvestigate", "deliver_refusal_notice"):
        assert not {"step-done", "step-current"} & set(await _markers(page, untouched)), untouched
    # Chinese names on the drawing: steps as written, lanes by their roles (the file keeps the key).
    drawn = await page.locator(".viewer-canvas svg[data-element-id]").inner_html()
    assert "乡镇（街道）民政" in drawn and "县级审核确认" in drawn and "township_civil_affairs" not in drawn
    # The whole diagram fits the box (zoomed to fit), and the page does not scroll sideways.
    box = await page.locator(".viewer-canvas").bounding_box()
    assert box["width"] <= viewport["width"] and box["height"] > 200
    assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    await ui.shot(page, "case-viewer")


async def test_every_shipped_process_opens_on_the_admin_page(live_ui):
    ui = live_ui
    page = await ui.login("admin", ADMIN_PASSWORD)
    for path in SHIPPED:
        root = etree.parse(str(path)).getroot()
        process = next(p for p in root.iter(f"{{{BPMN}}}process") if p.get("isExecutable") == "true")
        await page.goto(ui.url + f"/ui/admin/processes/{process.get('id')}")
        await _drawn(page)
        canvas = page.locator(".viewer-canvas")
        for element in process.iter():
            kind = etree.QName(element).localname if isinstance(element.tag, str) else ""
            if kind in TASKS | EVENTS | GATEWAYS | {"lane", "sequenceFlow"}:
                shape = canvas.locator(f'g.djs-element[data-element-id="{element.get("id")}"]')
                assert await shape.count() == 1, (path.name, element.get("id"))
            if kind == "lane":  # named by the role's Chinese name; the key is the lane's role property
                role = element.find(
                    f"{{{BPMN}}}extensionElements/{{*}}properties/{{*}}property[@name='role']"
                )
                assert role is not None, (path.name, element.get("id"))
                assert element.get("name") == role_label(role.get("value"))
                assert await shape.locator("text").text_content() == element.get("name")
        if path.stem == "dibao":
            await ui.shot(page, "admin-viewer-dibao")


async def test_viewer_assets_are_served_with_their_licence(live_ui):
    ui = live_ui
    for asset, text in (
        ("LICENSE", "Camunda Services GmbH"),
        ("bpmn-navigated-viewer.production.min.js", "bpmn-js - bpmn-navigated-viewer v18.31.1"),
        ("bpmn-js.css", ".bjs-container"),
    ):
        r = await ui.api.client.get(f"{ASSETS}/{asset}")
        assert r.status_code == 200 and text in r.text, asset


async def test_without_scripts_the_case_page_shows_the_server_drawn_diagram(live_ui):
    ui = live_ui
    app = await ui.api.apply()
    context = await ui.browser.new_context(viewport=PHONE, locale="zh-CN", java_script_enabled=False)
    ui.contexts.append(context)
    page = await context.new_page()
    await page.goto(ui.url + "/ui/login")
    await page.get_by_label("用户名").fill("town_a")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.goto(ui.url + f"/ui/cases/{app['id']}")
    image = page.get_by_role("img", name=re.compile("最低生活保障流程图，当前环节：受理"))
    assert await image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert not await page.locator(".viewer-canvas").is_visible()


async def test_a_version_without_a_diagram_keeps_the_laid_out_svg(live_ui):
    ui = live_ui
    plain = (PROJECT_ROOT / "tests" / "bpmn" / "escalation_demo.bpmn").read_bytes()
    assert b"BPMNDiagram" not in plain
    await ui.api.upload(plain, "escalation_demo.bpmn")
    page = await ui.login("admin", ADMIN_PASSWORD)
    await page.goto(ui.url + "/ui/admin/processes/escalation_demo")
    await page.wait_for_selector(".process-viewer[data-viewer-error]")
    image = page.locator(".process-viewer .diagram img")
    assert await image.is_visible()
    assert await image.evaluate("img => img.complete && img.naturalWidth > 0")
