"""Web UI sign-in: session cookie, CSRF, lock-out and expiry, in a real browser and over HTTP."""

import httpx
import sqlalchemy as sa

from app.config import Settings
from app.db.engine import create_engine
from app.domain.people.credentials import MAX_FAILED_LOGINS
from app.main import create_app
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD


async def _sql(database_url: str, statement: str) -> None:
    db = create_engine(database_url)
    try:
        async with db.begin() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await db.dispose()


async def test_visitor_is_sent_to_login_and_a_wrong_password_is_refused_inline(live_ui):
    page = await live_ui.page()
    await page.goto(live_ui.url + "/ui/")
    assert page.url.startswith(live_ui.url + "/ui/login")
    await page.get_by_label("用户名").fill("town_a")
    await page.get_by_label("密码").fill("not-the-password")
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("alert").wait_for()
    assert "用户名或密码错误" in await page.get_by_role("alert").inner_text()
    assert await page.get_by_label("用户名").input_value() == "town_a"  # what was typed stays
    await live_ui.shot(page, "login-error")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(live_ui.url + "/ui/")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "aidflow_session")
    assert (
        cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    )  # Secure outside test mode
    await page.get_by_role("button", name="退出").click()
    await page.wait_for_url(live_ui.url + "/ui/login")
    await page.goto(live_ui.url + "/ui/")
    assert page.url.startswith(live_ui.url + "/ui/login")  # the session ended on the server


async def test_lock_out_after_repeated_failures_also_locks_the_api(live_ui):
    page = await live_ui.page()
    await page.goto(live_ui.url + "/ui/login")
    for _ in range(MAX_FAILED_LOGINS):
        await page.get_by_label("用户名").fill("town_b")
        await page.get_by_label("密码").fill("wrong-password")
        await page.get_by_role("button", name="登录").click()
        await page.get_by_role("alert").wait_for()
    await page.get_by_label("用户名").fill("town_b")
    await page.get_by_label("密码").fill(PASSWORD)  # the right password, too late
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("alert").wait_for()
    assert "账户已临时锁定" in await page.get_by_role("alert").inner_text()
    assert "/ui/login" in page.url
    r = await live_ui.api.client.post("/api/v1/auth/token", data={"username": "town_b", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["code"] == "account_locked" and int(r.headers["Retry-After"]) > 0
    # Other accounts are untouched.
    assert (await live_ui.login("town_a")).url == live_ui.url + "/ui/"


async def test_forms_without_the_csrf_token_change_nothing(live_ui):
    app = await live_ui.api.apply()
    task = await live_ui.api.open_task(app["id"], "accept_application")
    page = await live_ui.login("town_a")
    for token in ("", "forged-token"):
        r = await page.request.post(
            live_ui.url + "/ui/tasks/claim", form={"one": task["id"], "csrf_token": token}, max_redirects=0
        )
        # Refused, and said on a GET page (POST/redirect/GET): the refusal keeps its status there.
        assert r.status == 303 and r.headers["location"].startswith("/ui/problem?draft=")
        shown = await page.request.get(live_ui.url + r.headers["location"])
        assert shown.status == 403 and "页面已过期或来源不明" in await shown.text()
    assert (await live_ui.api.open_task(app["id"]))["assignee"] is None
    # The login form is protected too (token bound to the visitor's cookie).
    other = await live_ui.page()
    r = await other.request.post(
        live_ui.url + "/ui/login",
        form={"username": "town_a", "password": PASSWORD, "csrf_token": "x"},
        max_redirects=0,
    )
    assert r.status == 303 and "aidflow_session" not in r.headers.get("set-cookie", "")
    assert r.headers["location"].startswith("/ui/login?draft=")
    shown = await other.request.get(live_ui.url + r.headers["location"])
    assert shown.status == 403 and "页面已过期，请重新提交" in await shown.text()


async def test_an_expired_session_goes_back_to_login_and_returns_to_the_page(live_ui):
    page = await live_ui.login("town_a")
    await page.goto(live_ui.url + "/ui/?scope=mine")
    # Time passes: the session is past its idle limit (moving the row stands in for waiting two hours).
    await _sql(
        live_ui.api.database_url,
        "UPDATE web_sessions SET last_seen_at = created_at - INTERVAL '1 day'"
        if "postgresql" in live_ui.api.database_url
        else "UPDATE web_sessions SET last_seen_at = '2000-01-01 00:00:00.000000'",
    )
    await page.reload()
    assert "/ui/login" in page.url
    assert "登录已超时" in await page.locator("main").inner_text()
    await page.get_by_label("用户名").fill("town_a")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(live_ui.url + "/ui/?scope=mine")


async def test_session_cookie_is_secure_outside_test_mode(tmp_path, sqlite_template):
    import shutil

    path = tmp_path / "dev.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(
        env="development",
        database_url=f"sqlite+aiosqlite:///{path}",
        log_json=False,
        bootstrap_admin_password=ADMIN_PASSWORD,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://aidflow.test"
        ) as client:
            form = (await client.get("/ui/login")).text
            token = form.split('name="csrf_token" value="')[1].split('"')[0]
            r = await client.post(
                "/ui/login",
                data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token, "next": "/ui/"},
            )
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert (
        "aidflow_session=" in cookie
        and "HttpOnly" in cookie
        and "Secure" in cookie
        and "SameSite=lax" in cookie
    )
    # A demo reached over plain http by a host name: a Secure cookie would never come back (no log-in).
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://demo-host:8000"
        ) as client:
            form = (await client.get("/ui/login")).text
            token = form.split('name="csrf_token" value="')[1].split('"')[0]
            r = await client.post(
                "/ui/login",
                data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token, "next": "/ui/"},
            )
    assert r.status_code == 303 and "Secure" not in r.headers["set-cookie"], r.headers


async def test_a_link_cannot_put_its_own_text_on_our_pages(live_ui):
    """`?msg=` showed any text as the page's banner: a phishing link could say 系统升级，请回复密码."""
    page = await live_ui.login("town_a")
    await page.goto(live_ui.url + "/ui/?msg=" + "系统升级，请把密码发到 evil@example.com")
    assert "evil@example.com" not in await page.content()
    # Our own redirects still carry their banner: save a view, then the page says so.
    await page.goto(live_ui.url + "/ui/?scope=all")
    await page.locator("summary", has_text="常用视图").click()
    await page.get_by_label("把当前筛选保存为").fill("全部待办")
    await page.get_by_role("button", name="保存视图").click()
    assert "已保存" in await page.get_by_role("status").inner_text()
