"""Every SVG the service draws is sent so that, opened on its own, it cannot run script: a CSP with
no script and a sandbox (only the drawing's own <style>), no type sniffing; and a hostile name in a
BPMN file comes back as text, escaped."""

from contextlib import asynccontextmanager

import httpx
from lxml import etree

from app.config import PROJECT_ROOT
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD, Api

ESCALATION = (PROJECT_ROOT / "tests" / "bpmn" / "escalation_demo.bpmn").read_text(encoding="utf-8")
HOSTILE_NAME = "<script>alert(document.cookie)</script>乡镇审核"
HOSTILE = ESCALATION.replace(
    'name="乡镇审核"', 'name="&lt;script&gt;alert(document.cookie)&lt;/script&gt;乡镇审核"'
).replace('name="超时升级示例"', 'name="&lt;script&gt;alert(1)&lt;/script&gt;"')
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@asynccontextmanager
async def _web(api: Api, username: str, password: str = PASSWORD):
    """A browser-like client of the same app, logged in to the web UI (its own cookies)."""
    async with httpx.AsyncClient(transport=api.client._transport, base_url=api.client.base_url) as web:
        login = await web.get("/ui/login")
        token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        r = await web.post(
            "/ui/login", data={"csrf_token": token, "username": username, "password": password}
        )
        assert r.status_code == 303 and not r.headers["location"].startswith("/ui/login"), r.text[:300]
        yield web


def _safe_svg(r: httpx.Response) -> etree._Element:
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.headers["content-security-policy"] == SVG_CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    root = etree.fromstring(r.content)
    assert not list(root.iter("{http://www.w3.org/2000/svg}script")), r.text[:500]
    return root


async def test_every_svg_route_forbids_script_and_escapes_hostile_names(api: Api):
    await api.upload(HOSTILE.encode(), "escalation_demo.bpmn")
    case = await api.apply(program="escalation_demo")
    case_paths = (f"/api/v1/applications/{case['id']}/diagram.svg", f"/ui/cases/{case['id']}/diagram.svg")
    api_paths = (
        "/api/v1/process-definitions/escalation_demo/versions/1/diagram.svg",
        f"/api/v1/applications/{case['id']}/diagram.svg",
    )
    for path in api_paths:
        r = await api.client.get(path, headers=api.headers["admin"])
        root = _safe_svg(r)
        assert "<script" not in r.text and "&lt;script&gt;alert(document.cookie)" in r.text, r.text[:800]
        # The name is drawn as the text it is, not as markup.
        assert HOSTILE_NAME in ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
        if path in case_paths:
            assert r.headers["cache-control"] == "no-store"  # a case's progress is kept by no cache
    async with _web(api, "admin", ADMIN_PASSWORD) as admin:
        r = await admin.get("/ui/admin/processes/escalation_demo/versions/1/diagram.svg")
        _safe_svg(r)
        assert "<script" not in r.text and "&lt;script&gt;" in r.text
    async with _web(api, "town_a") as reviewer:
        r = await reviewer.get(f"/ui/cases/{case['id']}/diagram.svg")
        _safe_svg(r)
        assert "<script" not in r.text and r.headers["cache-control"] == "no-store"
        # Who may not: a reviewer is no administrator, a reviewer of another township sees no case.
        r = await reviewer.get("/ui/admin/processes/escalation_demo/versions/1/diagram.svg")
        assert r.status_code == 403 and "image/svg" not in r.headers["content-type"]
    async with _web(api, "town_b") as stranger:
        r = await stranger.get(f"/ui/cases/{case['id']}/diagram.svg")
        assert r.status_code == 404 and "image/svg" not in r.headers["content-type"]
    assert (await api.get("town_b", f"/applications/{case['id']}/diagram.svg")).status_code == 404
    assert (
        await api.get("nobody", "/process-definitions/escalation_demo/versions/1/diagram.svg")
    ).status_code == 401


async def test_the_diagram_opened_alone_in_chromium_keeps_its_styles_under_the_policy(live_ui):
    """What the drawing needs to render is its own <style>: the policy lets it apply in a real browser."""
    ui = live_ui
    await ui.api.upload(HOSTILE.encode(), "escalation_demo.bpmn")
    case = await ui.api.apply(program="escalation_demo")
    page = await ui.login("town_a")
    response = await page.goto(ui.url + f"/ui/cases/{case['id']}/diagram.svg")
    assert response is not None and response.headers["content-security-policy"] == SVG_CSP
    lane = page.locator("g.lane rect").first
    assert await lane.evaluate("r => getComputedStyle(r).fill") == "rgb(250, 250, 250)"
    step = page.locator('g[data-element-id="township_review"]')
    assert "current" in (await step.get_attribute("class") or "")
    assert await step.locator("text").text_content() == HOSTILE_NAME  # drawn as text
    assert await page.locator("script").count() == 0
