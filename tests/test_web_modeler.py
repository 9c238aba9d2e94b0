"""The process editor on the admin page (bpmn-js's Modeler, served by the service) in Chromium:
open a program, rename a step, check it (校验), break it and see the problem selected in the
drawing, upload it as a new version, download the XML; and who may not use it."""

import hashlib
import re

import pytest

from app.config import PROJECT_ROOT
from tests.conftest import ADMIN_PASSWORD
from tests.web_support import DESKTOP, PHONE

ASSETS = PROJECT_ROOT / "app" / "web" / "static" / "bpmn-js-18.31.1"
RENAMED = "县级审核确认（修订）"


def _shape(page, element_id: str):
    return page.locator(f'.modeler-canvas g.djs-element[data-element-id="{element_id}"]')


async def _ready(page) -> None:
    await page.wait_for_selector(
        '.process-modeler[data-modeler="ready"], .process-modeler[data-modeler="failed"]'
    )
    assert await page.locator(".process-modeler").get_attribute("data-modeler") == "ready", (
        await page.locator("#modeler-error").inner_text()
    )


async def _status(page, pattern: str) -> str:
    """What the page said once the answer came (the status, or the failure it showed)."""
    await page.wait_for_function(
        "() => !document.getElementById('modeler-error').hidden"
        " || !document.getElementById('modeler-status').hidden"
        " && !document.getElementById('modeler-status').textContent.startsWith('正在')"
    )
    said = (
        await page.locator("#modeler-status").inner_text() + await page.locator("#modeler-error").inner_text()
    )
    assert re.search(pattern, said), said
    return said


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_admin_edits_checks_and_uploads_a_process_in_the_browser(live_ui, viewport):
    ui = live_ui
    page = await ui.login("admin", ADMIN_PASSWORD, viewport=viewport)
    await page.goto(ui.url + "/ui/admin/processes/dibao")
    await page.get_by_role("link", name="编辑", exact=True).click()
    await page.wait_for_url(ui.url + "/ui/admin/processes/dibao/edit")
    # The modeler needs nothing the page's policy forbids: scripts only from the service, no eval.
    response = await page.reload()
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    await _ready(page)
    # Lanes in Chinese, the palette in Chinese.
    assert await _shape(page, "lane_county").locator("text").text_content() == "县级民政"
    assert await page.locator('.djs-palette [aria-label="新建任务"]').count() == 1

    # Rename a step in place (double click, type, Enter).
    await _shape(page, "county_confirm").dblclick()
    editor = page.locator(".djs-direct-editing-parent")
    await editor.wait_for()
    await page.keyboard.press("Control+A")
    await page.keyboard.type(RENAMED)
    await page.keyboard.press("Enter")
    assert await _shape(page, "county_confirm").locator("text").text_content() == RENAMED
    await page.get_by_role("button", name="校验").click()
    assert "校验通过：没有发现问题" in await _status(page, "校验通过")
    assert await page.locator("#modeler-problems li").count() == 0
    await ui.shot(page, "modeler-renamed")

    # A problem: an end event appended after the step, without the outcome every end event declares.
    await _shape(page, "county_confirm").click()
    await page.locator('.djs-context-pad [title="追加结束事件"]').click()
    await page.get_by_role("button", name="校验").click()
    await _status(page, "发现 \\d+ 个问题")
    problems = page.locator("#modeler-problems li")
    assert await problems.count() >= 1
    listed = await page.locator("#modeler-problems").inner_text()
    assert "结束事件的 outcome 不正确" in listed, listed
    found = problems.filter(has_text="结束事件的 outcome 不正确").locator("button")
    new_end = await found.get_attribute("data-element-id")
    assert re.search(r"第\d+行，元素 " + re.escape(new_end), listed), listed
    await page.locator(".modeler-canvas").click(position={"x": 5, "y": 5})  # nothing selected
    await found.click()
    assert "selected" in (await _shape(page, new_end).get_attribute("class")).split()
    await ui.shot(page, "modeler-problem")
    # Nothing was deployed by checking.
    assert [v["version"] for v in (await ui.api.get("admin", "/process-definitions/dibao")).json()] == [1]

    # Remove it again (the context pad of the selected element), upload with a comment.
    await page.locator('.djs-context-pad [title="删除"]').click()
    assert await _shape(page, new_end).count() == 0
    await page.get_by_label("修订说明（选填）").fill("县级环节改名")
    await page.get_by_role("button", name="上传").click()
    assert "已部署：最低生活保障第2版" in await _status(page, "已部署")

    # 下载 saves what is in the modeler.
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="下载").click()
    download = await waiting.value
    assert download.suggested_filename == "dibao.bpmn"
    saved = (await download.path()).read_text(encoding="utf-8")
    assert RENAMED in saved and 'camunda:candidateGroups="county_civil_affairs"' in saved

    await page.get_by_role("link", name="查看版本列表").click()
    await page.wait_for_url(ui.url + "/ui/admin/processes/dibao")
    rows = page.locator("table.tasks").first.locator("tbody tr")  # the versions; the files follow
    assert await rows.count() == 2
    newest = await rows.first.inner_text()
    assert "第2版" in newest and "县级环节改名" in newest and "admin" in newest, newest
    stored = (await ui.api.get("admin", "/process-definitions/dibao")).json()
    assert [v["version"] for v in stored] == [2, 1]
    await ui.shot(page, "modeler-uploaded")


async def test_the_editor_is_for_administrators_only(live_ui):
    ui = live_ui
    page = await ui.login("town_a")
    response = await page.goto(ui.url + "/ui/admin/processes/dibao/edit")
    assert response.status == 403
    # The upload it posts refuses a reviewer too, with a valid form token of theirs.
    await page.goto(ui.url + "/ui/")
    token = await page.locator('input[name="csrf_token"]').first.get_attribute("value")
    xml = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_bytes()
    answer = await page.request.post(
        ui.url + "/ui/admin/processes",
        multipart={
            "csrf_token": token,
            "file": {"name": "dibao.bpmn", "mimeType": "application/xml", "buffer": xml},
        },
        headers={"Accept": "application/json"},
    )
    assert answer.status == 403
    # An administrator's request without the form token is refused as well.
    admin = await ui.login("admin", ADMIN_PASSWORD)
    answer = await admin.request.post(
        ui.url + "/ui/admin/processes",
        multipart={"file": {"name": "dibao.bpmn", "mimeType": "application/xml", "buffer": xml}},
        headers={"Accept": "application/json"},
    )
    assert answer.status == 403
    assert [v["version"] for v in (await ui.api.get("admin", "/process-definitions/dibao")).json()] == [1]


async def test_modeler_assets_are_the_checked_package_files(live_ui):
    """Served with the licence; each file as scripts/vendor_docs_assets.sh took it from the
    integrity-checked npm package (SHA256SUMS), and every font the CSS names is there."""
    ui = live_ui
    sums = (ASSETS / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ./")[1]: line.split("  ")[0] for line in sums}
    assert "bpmn-modeler.production.min.js" in listed and "bpmn-font/css/bpmn.css" in listed
    for name, digest in listed.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    on_disk = {p.relative_to(ASSETS).as_posix() for p in ASSETS.rglob("*") if p.is_file()}
    assert on_disk - {"SHA256SUMS"} == set(listed)
    css = (ASSETS / "bpmn-font" / "css" / "bpmn.css").read_text()
    for font in set(re.findall(r"url\('\.\./font/([^?']+)", css)):
        r = await ui.api.client.get(f"/ui/static/bpmn-js-18.31.1/bpmn-font/font/{font}")
        assert r.status_code == 200, font
    script = await ui.api.client.get("/ui/static/bpmn-js-18.31.1/bpmn-modeler.production.min.js")
    assert script.status_code == 200 and "bpmn-js - bpmn-modeler v18.31.1" in script.text
    assert "Camunda Services GmbH" in (await ui.api.client.get("/ui/static/bpmn-js-18.31.1/LICENSE")).text
