"""The newcomer's first hour in a browser: `aidflow migrate`, `aidflow demo` and `aidflow serve` with
AIDFLOW_ENV=demo (what `make demo` runs), then one demo case from acceptance to the county's
confirmation by the demo's own users — the notice's seven days passed with 管理 → 演示时钟."""

import asyncio
import os
import subprocess

from app.demo import DEMO_PASSWORD
from tests.live import free_port, wait_until_up
from tests.time_travel import command
from tests.web_support import ARTIFACTS, DESKTOP, PHONE


async def test_the_demo_from_acceptance_to_county_confirmation(tmp_path, browser):
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_ENV": "demo",
        "AIDFLOW_STORAGE_DIRECTORY": str(tmp_path / "materials"),
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(command("aidflow", *args), env=env, capture_output=True, text=True, timeout=180)

    assert run("migrate").returncode == 0
    loaded = run("demo")
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            command("aidflow", "serve", "--port", str(port)), env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    contexts = []

    async def login(username: str, viewport: dict = DESKTOP):
        context = await browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(20_000)
        await page.goto(base + "/ui/login")
        await page.get_by_label("用户名").fill(username)
        await page.get_by_label("密码").fill(DEMO_PASSWORD)
        await page.get_by_role("button", name="登录").click()
        await page.wait_for_url(base + "/ui/")
        return page

    async def claim_by_name(page, name: str) -> None:
        """The inbox's search box finds the demo case by its applicant; its one row is claimed."""
        await page.goto(base + "/ui/?scope=candidate")
        await page.get_by_label("查找", exact=True).fill(name)
        await page.get_by_role("button", name="查找", exact=True).click()
        await page.wait_for_url(base + "/ui/?*")
        rows = page.locator("tr[data-task-id]")
        assert await rows.count() == 1, await page.locator("main").inner_text()
        await rows.first.get_by_role("button", name="认领").click()
        await page.wait_for_url(base + "/ui/tasks/*")

    async def shot(page, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / f"demo-{name}.png"), full_page=True)

    try:
        await asyncio.to_thread(wait_until_up, base, server, log)
        # 濉溪镇's reviewer accepts DEMO-1 (赵小红, waiting for acceptance), then reviews it.
        town = await login("zhang.wei")
        await claim_by_name(town, "赵小红")
        await town.get_by_label("经办意见").fill("材料齐全，予以受理")
        await town.get_by_role("button", name="通过（予以受理）").click()
        await town.wait_for_url(base + "/ui/?*")
        assert "已办结：受理" in await town.get_by_role("status").inner_text()
        await claim_by_name(town, "赵小红")
        await town.get_by_label("审核意见").fill("入户调查属实，符合条件")
        await shot(town, "initial-review")
        await town.get_by_role("button", name="通过（同意）").click()
        await town.wait_for_url(base + "/ui/?*")

        # The county has nothing of hers during the notice; the administrator lets seven days pass.
        county = await login("wang.fang", PHONE)
        await county.goto(base + "/ui/?scope=candidate")
        await county.get_by_label("查找", exact=True).fill("赵小红")
        await county.get_by_role("button", name="查找", exact=True).click()
        await county.wait_for_url(base + "/ui/?*")
        assert await county.locator("tr[data-task-id]").count() == 0
        admin = await login("admin")
        await admin.goto(base + "/ui/admin/clock")
        await admin.get_by_role("button", name="前进七天").click()
        assert "时间已前进七天" in await admin.get_by_role("status").inner_text()

        # At 360 px the county confirms with the amount and class; the case is approved.
        await claim_by_name(county, "赵小红")
        await county.get_by_label("月保障金额（元）").fill("580")
        await county.get_by_role("radio", name="B类（基本无收入）").check()
        await shot(county, "county-confirm-phone")
        await county.get_by_role("button", name="通过（确认纳入低保）").click()
        await county.wait_for_url(base + "/ui/?*")
        await county.goto(base + "/ui/cases?q=赵小红")
        await county.locator("main a[href^='/ui/cases/']").first.click()
        text = await county.locator("main").inner_text()
        assert "案件已结束：已批准" in text and "580.00元/月" in text, text
        await shot(county, "case-approved-phone")
        assert await county.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        for context in contexts:
            await context.close()
        server.terminate()
        server.wait(timeout=20)
