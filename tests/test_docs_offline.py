"""/docs and /redoc work on an intranet without internet: every asset comes from the service."""

import re

import pytest

LOCAL = re.compile(r'(?:src|href)="([^"]+)"')


async def test_the_documentation_pages_load_nothing_from_elsewhere(api):
    for path in ("/docs", "/redoc"):
        page = await api.client.get(path)
        assert page.status_code == 200, page.text
        urls = LOCAL.findall(page.text)
        assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
        assert "cdn." not in page.text and "googleapis" not in page.text
        for url in urls:
            asset = await api.client.get(url)
            assert asset.status_code == 200, url
    for licence in ("/docs-assets/swagger-ui-dist-5.35.0/LICENSE", "/docs-assets/redoc-2.5.4/LICENSE"):
        r = await api.client.get(licence)
        assert r.status_code == 200 and ("Apache License" in r.text or "MIT License" in r.text)


@pytest.mark.parametrize("path, shown", [("/docs", "/api/v1/applications"), ("/redoc", "applications")])
async def test_the_documentation_renders_in_a_browser_cut_off_from_the_internet(live_ui, path, shown):
    context = await live_ui.browser.new_context()
    outside: list[str] = []

    async def only_the_service(route):
        if route.request.url.startswith(live_ui.url):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    try:
        page = await context.new_page()
        await page.route("**/*", only_the_service)
        await page.goto(live_ui.url + path)
        await page.get_by_text(shown).first.wait_for(timeout=20_000)
        await page.wait_for_load_state("networkidle")  # images and fonts too (ReDoc's logo came later)
    finally:
        await context.close()
    assert outside == []
