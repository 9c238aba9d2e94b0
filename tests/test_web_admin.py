"""Admin and supervision pages in a browser: BPMN upload with line errors, rollout, calendar, users."""

import re
from pathlib import Path

from app.config import PROJECT_ROOT
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD

DIBAO = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_bytes()


async def _upload(page, tmp_path: Path, content: bytes, name: str = "dibao.bpmn", dry_run: bool = False):
    path = tmp_path / name
    path.write_bytes(content)
    await page.get_by_label("流程文件（.bpmn）").set_input_files(str(path))
    if dry_run:
        await page.get_by_label("只校验，不部署").check()
    await page.get_by_role("button", name="上传").click()
    await page.wait_for_load_state()


async def test_admin_uploads_a_broken_bpmn_and_sees_the_line_errors(live_ui, tmp_path):
    ui = live_ui
    page = await ui.login("admin", ADMIN_PASSWORD)
    await page.get_by_role("link", name="管理").click()
    broken = DIBAO.replace(
        b'candidateGroups="county_civil_affairs"', b'candidateGroups="county_nobody at all"'
    )
    await _upload(page, tmp_path, broken)
    assert "流程文件未通过校验" in await page.locator("#form-error").inner_text()
    problems = page.locator("#bpmn-problems li")
    assert await problems.count() >= 1
    # Each step in the misnamed lane is reported at its own line, with its element id.
    line = broken[: broken.index(b'<bpmn:userTask id="county_confirm"')].count(b"\n") + 1
    text = await page.locator("#bpmn-problems").inner_text()
    assert (
        f"第{line}行，元素 county_confirm：泳道或候选组不是有效的角色" in text
        and "county_nobody at all" in text
    ), text
    await ui.shot(page, "admin-bpmn-errors")
    assert (await ui.api.get("admin", "/process-definitions/dibao")).json()[0][
        "version"
    ] == 1  # nothing deployed
    # A dry run of a good revision, then the real upload with its tag.
    revised = DIBAO.replace(b'"P7D"', b'"P5D"')
    await _upload(page, tmp_path, revised, dry_run=True)
    assert "校验通过" in await page.locator("#upload-result").inner_text()
    await page.get_by_label("版本标签（选填）").fill("皖2026-1")
    await _upload(page, tmp_path, revised)
    assert "第2版" in await page.locator("#upload-result").inner_text()
    # Pilot version 1 stays the default; 临涣镇 tries version 2. A wrong place is refused inline.
    await page.get_by_role("link", name="最低生活保障", exact=True).click()
    versions = await page.locator("table").first.inner_text()
    assert "首个版本" in versions and "环节未变" in versions  # only the notice timer changed
    await page.get_by_label("默认版本").select_option("1")
    await page.get_by_label(re.compile("试点规则")).fill("999999 2")
    await page.get_by_role("button", name="保存").click()
    assert "没有这个行政区划代码" in await page.locator("#form-error").inner_text()
    await page.get_by_label(re.compile("试点规则")).fill("340621101 2")
    await page.get_by_role("button", name="保存").click()
    await page.get_by_role("status").wait_for()
    rollout = (await ui.api.get("admin", "/process-definitions/dibao/rollout")).json()
    assert rollout["default_version"] == 1 and rollout["rules"][0]["division_code"] == "340621101"


async def test_admin_calendar_and_users(live_ui):
    ui = live_ui
    page = await ui.login("admin", ADMIN_PASSWORD)
    await page.goto(ui.url + "/ui/admin/calendar?year=2031")
    assert "尚未发布" in await page.locator("main").inner_text()
    await page.get_by_label(re.compile("依据")).fill("国务院办公厅关于2031年部分节假日安排的通知")
    await page.get_by_label(re.compile("法定节假日")).fill("2031-10-01\n2031-10-02\n2031-10-03\n十月四日")
    await page.get_by_role("button", name="保存并重新计算期限").click()
    assert "日期格式应为" in await page.locator("#form-error").inner_text()
    # POST/redirect/GET: the refused year comes back as a GET page with what was typed, in Chinese.
    assert (
        "draft=" in page.url
        and "法定节假日第4行日期格式不正确" in await page.locator("#form-error").inner_text()
    )
    assert (await page.get_by_label(re.compile("法定节假日")).input_value()).endswith("十月四日")
    await page.get_by_label(re.compile("依据")).fill("国务院办公厅关于2031年部分节假日安排的通知")
    await page.get_by_label(re.compile("法定节假日")).fill("2031-10-01\n2031-10-02\n2031-10-03")
    await page.get_by_label(re.compile("调休上班")).fill("2031-09-28")
    await page.get_by_role("button", name="保存并重新计算期限").click()
    await page.get_by_role("status").wait_for()
    october = page.get_by_role("table", name="2031年10月")
    assert await october.locator("td.off", has_text=re.compile("^1$")).count() == 1
    september = page.get_by_role("table", name="2031年9月")
    assert await september.locator("td.worked", has_text="28").count() == 1
    await ui.shot(page, "admin-calendar")
    # Users: a bad grant is refused inline; a good one can log in.
    await page.goto(ui.url + "/ui/admin/users")
    await page.get_by_label("用户名").fill("village_head")
    await page.get_by_label("姓名", exact=True).fill("李村长")
    await page.get_by_label(re.compile("初始密码")).fill(PASSWORD)
    await page.get_by_label(re.compile("^授权")).fill("village_civil_affairs 000000")
    await page.get_by_role("button", name="创建").click()
    assert "没有这个行政区划代码" in await page.locator("#form-error").inner_text()
    await page.get_by_label(re.compile("初始密码")).fill(PASSWORD)
    await page.get_by_label(re.compile("^授权")).fill("village_civil_affairs 340621100201")
    await page.get_by_role("button", name="创建").click()
    await page.get_by_role("status").wait_for()
    assert "村（社区）民政（东关村）" in await page.locator("table").first.inner_text()
    assert (await ui.login("village_head")).url == ui.url + "/ui/"
    # Not for reviewers.
    reviewer = await ui.login("county")
    response = await reviewer.goto(ui.url + "/ui/admin")
    assert response.status == 403 and "仅限系统管理员" in await reviewer.locator("main").inner_text()


async def test_supervision_counts_overdue_and_due_soon_work_per_place(live_ui):
    ui = live_ui
    late = [await ui.api.apply() for _ in range(2)]
    for app in late:
        await ui.api.step("town_a", app["id"], "accept_application", {"decision": "accept"})
    await ui.api.advance(days=20)  # both initial reviews are now past their 10 working days
    soon = await ui.api.apply(division_code="340621101201")
    await ui.api.step("town_b", soon["id"], "accept_application", {"decision": "accept"})
    await ui.api.advance(days=12)  # 临涣镇's review: due within two working days, not yet late
    page = await ui.login("county")
    await page.get_by_role("link", name="督办").click()
    assert await page.locator("#late-total").inner_text() == "2"
    assert "濉溪镇：2件" in await page.locator("#late-by-place").inner_text()
    assert await page.locator("#soon-total").inner_text() == "1"
    assert "临涣镇：1件" in await page.locator("#soon-by-place").inner_text()
    assert "张*" in await page.locator("table").first.inner_text()  # names masked for supervisors
    await ui.shot(page, "supervision")
    township = await ui.login("town_a")
    assert await township.get_by_role("link", name="督办").count() == 0
    response = await township.goto(ui.url + "/ui/supervision")
    assert response.status == 403


async def test_the_day_someone_leaves_in_the_admin_pages(live_ui):
    """Issue 15: "disable a user, revoke an API key, revoke a user's tokens — API and admin pages"."""
    ui = live_ui
    leaver = await ui.login("town_b")  # a browser session that must end when the account is disabled
    token = await ui.api.login("town_b")
    admin = await ui.login("admin", ADMIN_PASSWORD)
    await admin.goto(ui.url + "/ui/admin/users")
    await admin.get_by_label("新密码 town_b").fill("aaaaaaaaaaaa")
    await admin.get_by_role("button", name="重设密码 town_b").click()
    assert "密码强度不够" in await admin.locator("#form-error").inner_text()
    await admin.get_by_role("button", name="停用 town_b").click()
    assert "已停用：town_b" in await admin.get_by_role("status").inner_text()
    assert "已停用" in await admin.get_by_role("row", name=re.compile("town_b")).inner_text()
    await leaver.goto(ui.url + "/ui/")
    assert leaver.url.startswith(ui.url + "/ui/login")  # the session ended at once
    r = await ui.api.client.get("/api/v1/tasks", headers=token)
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    # Who made the portal's key: the administrator by name and office, not the login.
    maker = await admin.locator("td[data-label=创建人]").first.inner_text()
    assert "系统管理员" in maker and maker != "admin", maker
    await admin.get_by_role("button", name="吊销 portal").click()
    assert "已吊销接口密钥：portal" in await admin.get_by_role("status").inner_text()
    assert (await ui.api.get("portal", "/auth/me")).status_code == 401
    types = [c["type"] for c in (await ui.api.get("admin", "/admin/audit", limit=5)).json()]
    assert types[:2] == ["api_key.revoked", "user.disabled"]


async def test_an_admin_edits_a_users_name_and_grants_in_the_web_ui(live_ui):
    ui = live_ui
    admin = await ui.login("admin", ADMIN_PASSWORD)
    await admin.goto(ui.url + "/ui/admin/users")
    await admin.get_by_label("修改 town_b").click()
    row = admin.get_by_role("row", name=re.compile("town_b"))
    await row.get_by_label("修改后的授权").fill("county_civil_affairs 340621101")
    await row.get_by_role("button", name="保存 town_b").click()
    assert "层级" in await admin.locator("#form-error").inner_text()  # a county role at a township
    await admin.get_by_label("修改 town_b").click()
    row = admin.get_by_role("row", name=re.compile("town_b"))
    await row.get_by_label("修改后的姓名").fill("赵六")
    await row.get_by_label("修改后的授权").fill("township_civil_affairs 340621100")
    await row.get_by_role("button", name="保存 town_b").click()
    assert "已修改：town_b" in await admin.get_by_role("status").inner_text()
    assert "濉溪镇" in await admin.get_by_role("row", name=re.compile("town_b")).inner_text()
    changed = (await ui.api.get("admin", "/admin/audit", type="user.grants_changed")).json()
    assert changed[0]["new"] == {"grants": [{"role": "township_civil_affairs", "division_code": "340621100"}]}


async def test_a_reviewer_changes_their_own_password_in_the_web_ui(live_ui):
    ui = live_ui
    page = await ui.login("town_a")
    await page.get_by_role("link", name="修改密码").click()
    await page.get_by_label("当前密码").fill("not-my-password")
    await page.get_by_label("新密码").fill("quiet-harbour-lantern-7")
    await page.get_by_role("button", name="修改密码").click()
    assert "当前密码错误" in await page.locator("#form-error").inner_text()
    await page.get_by_label("当前密码").fill(PASSWORD)
    await page.get_by_label("新密码").fill("town_a")
    await page.get_by_role("button", name="修改密码").click()
    assert "密码强度不够" in await page.locator("#form-error").inner_text()
    await page.get_by_label("当前密码").fill(PASSWORD)
    await page.get_by_label("新密码").fill("quiet-harbour-lantern-7")
    await page.get_by_role("button", name="修改密码").click()
    await page.wait_for_url(re.compile(r".*/ui/login.*"))
    assert "密码已修改" in await page.get_by_role("status").inner_text()
    assert (await ui.login("town_a", "quiet-harbour-lantern-7")).url == ui.url + "/ui/"


async def test_who_may_not_close_accounts_in_the_web_ui(live_ui):
    ui = live_ui
    paths = (
        "/ui/admin/users/town_b/disable",
        "/ui/admin/users/town_b/password",
        "/ui/admin/users/town_b/revoke-tokens",
        "/ui/admin/api-keys/portal/revoke",
        "/ui/admin/users/town_b/edit",
    )
    for who in ("county", "town_b"):  # a reviewer above, the person themselves
        reviewer = await ui.login(who)
        csrf = await reviewer.locator("form.logout input[name=csrf_token]").get_attribute("value")
        for path in paths:
            r = await reviewer.request.post(
                ui.url + path, form={"csrf_token": csrf, "password": "quiet-harbour-lantern-7"}
            )
            assert r.status == 403, (who, path)
            assert "仅限系统管理员" in await r.text()
    stranger = await ui.page()
    for path in paths:
        r = await stranger.request.post(ui.url + path, form={"csrf_token": "x"}, max_redirects=0)
        # No session: the CSRF check refuses before anything else, said on a GET page (POST/redirect/GET).
        assert r.status == 303 and r.headers["location"].startswith("/ui/problem?draft="), path
        shown = await stranger.request.get(ui.url + r.headers["location"])
        assert shown.status == 403 and "页面已过期" in await shown.text(), path
    assert (await ui.api.get("portal", "/auth/me")).status_code == 200
    assert (
        await ui.api.client.post("/api/v1/auth/token", data={"username": "town_b", "password": PASSWORD})
    ).status_code == 200
    assert (await ui.api.get("admin", "/admin/audit", type="user.")).json()[0]["type"] == "user.created"
    assert (await ui.api.get("admin", "/admin/audit", type="api_key.revoked")).json() == []
    assert (await ui.api.get("admin", "/admin/audit", type="user.grants_changed")).json() == []
