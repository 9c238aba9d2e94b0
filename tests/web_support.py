"""Browser tests: the app served by a real uvicorn on a free port, driven by Debian's Chromium.

``live_ui`` starts the service against a fresh SQLite database (``live_ui_pg``: PostgreSQL),
creates the test places and people through the REST API over real HTTP, and yields a
``LiveUi`` with the REST helper and a browser factory. Screenshots go to ``test-artifacts/``
(or ``AIDFLOW_TEST_ARTIFACTS``), which is not committed.
"""

import asyncio
import os
import shutil
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright

from app.main import create_app
from tests.helpers import PASSWORD, Api
from tests.live import free_port

CHROMIUM = os.environ.get("AIDFLOW_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("AIDFLOW_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")
)
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}


class LiveServer:
    """uvicorn in a thread with its own event loop; stopped by asking it to exit (no kill)."""

    def __init__(self, database_url: str):
        from tests.conftest import make_settings

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(make_settings(database_url)),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    async def __aenter__(self):
        self.thread.start()
        for _ in range(600):  # up to 30 s for migrations check, calendar seed and BPMN deployment
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise RuntimeError("the live server stopped while starting")
            await asyncio.sleep(0.05)
        raise RuntimeError("the live server did not start")

    async def __aexit__(self, *exc):
        self.server.should_exit = True
        await asyncio.to_thread(self.thread.join, 30)


class LiveUi:
    def __init__(self, server: LiveServer, api: Api, browser, name: str):
        self.url = server.url
        self.api = api
        self.browser = browser
        self.name = name
        self.contexts = []

    async def page(self, viewport: dict | None = None):
        """A fresh browser profile (its own cookies): one per person in a scenario."""
        context = await self.browser.new_context(
            viewport=viewport or DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        self.contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        return page

    async def login(self, username: str, password: str = PASSWORD, viewport: dict | None = None):
        page = await self.page(viewport)
        await page.goto(self.url + "/ui/login")
        await page.get_by_label("用户名").fill(username)
        await page.get_by_label("密码").fill(password)
        await page.get_by_role("button", name="登录").click()
        await page.wait_for_url(self.url + "/ui/")
        return page

    async def shot(self, page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    async def close(self):
        for context in self.contexts:
            await context.close()


def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        # Not a skip: the browser tests are part of the suite (scripts/test.sh installs Chromium).
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run `make test` (installs it as root) or "
            "`sudo apt-get install chromium`",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser():
    playwright = await async_playwright().start()
    try:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        await browser.close()
    finally:
        await playwright.stop()


async def _live(database_url: str, browser, request, admin_password: str):
    async with LiveServer(database_url) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            api = Api(client, database_url)
            await api.setup_places_and_people(admin_password)
            ui = LiveUi(server, api, browser, request.node.name.replace("[", "-").replace("]", ""))
            try:
                yield ui
            finally:
                await ui.close()


@pytest.fixture
async def live_ui(tmp_path, sqlite_template, browser, request):
    from tests.conftest import ADMIN_PASSWORD

    path = tmp_path / "ui.db"
    shutil.copy(sqlite_template, path)
    async for ui in _live(f"sqlite+aiosqlite:///{path}", browser, request, ADMIN_PASSWORD):
        yield ui


@pytest.fixture
async def live_ui_both(database_url, browser, request):
    """The same scenario on both databases (database_url is parametrized in conftest)."""
    from tests.conftest import ADMIN_PASSWORD

    async for ui in _live(database_url, browser, request, ADMIN_PASSWORD):
        yield ui
