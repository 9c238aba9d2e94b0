"""The task page in a browser: claim, the form from its schema, inline errors, decide; others can't."""

from tests.helpers import PASSWORD, id_number


async def _claim_first(ui, page, program_label: str = "最低生活保障"):
    await page.get_by_label("业务").select_option(label=program_label)
    await page.get_by_role("button", name="筛选").click()
    row = page.locator("tr[data-task-id]").first
    task_id = await row.get_attribute("data-task-id")
    await row.get_by_role("button", name="认领").click()
    await page.wait_for_url(ui.url + f"/ui/tasks/{task_id}*")
    return task_id


async def test_township_reviewer_decides_with_inline_errors_and_the_county_sees_the_case_move_on(live_ui):
    ui = live_ui
    app = await ui.api.apply(applicant={"name": "欧阳娜娜", "id_number": id_number(), "phone": "13900000000"})
    await ui.api.apply(program="tekun", data={"household_size": 1})
    page = await ui.login("town_a")
    await _claim_first(ui, page)
    # The acceptance form: its decision values are the buttons; refusing needs the missing materials.
    await page.get_by_role("button", name="不通过（材料不齐，一次性告知）").click()
    await page.locator("#form-error").wait_for()
    field = page.locator("[data-field=missing_materials]")
    assert "请填写需补齐的材料" in await field.inner_text()
    await ui.shot(page, "task-invalid")
    assert (await ui.api.open_task(app["id"]))["state"] == "open"  # nothing happened
    await page.get_by_label("经办意见").fill("材料齐全")
    await page.get_by_role("button", name="通过（予以受理）").click()
    await page.wait_for_url(ui.url + "/ui/?*")
    assert "已办结：受理" in await page.get_by_role("status").inner_text()
    # The initial review arrives in the same township's group inbox.
    review = await ui.api.open_task(app["id"], "initial_review")
    await page.goto(ui.url + f"/ui/tasks/{review['id']}")
    await page.get_by_role("button", name="认领").click()
    await page.get_by_role("button", name="不通过（不同意）").click()
    await page.locator("#form-error").wait_for()
    assert "请填写不予批准的理由" in await page.locator("[data-field=reason]").inner_text()
    assert "审核结论为“不同意”时必填" in await page.locator("[data-field=reason]").inner_text()
    # Earlier opinions sit beside the form.
    assert "材料齐全" in await page.locator("aside").inner_text()
    await page.get_by_label("审核意见").fill("入户调查属实，符合条件")
    await ui.shot(page, "task-review")
    await page.get_by_role("button", name="通过（同意）").click()
    await page.wait_for_url(ui.url + "/ui/?*")
    events = [e["type"] for e in await ui.api.events(app["id"])]
    assert events.count("task.completed") == 2 and "notice.opened" in events
    # The notice runs its 7 days; then the county confirms.
    await ui.api.advance(days=8)
    await ui.api.run_timers()
    county = await ui.login("county")
    row = county.locator("tr[data-task-id]", has_text="县级审核确认")
    assert await row.count() == 1
    assert "欧阳娜娜" in await row.inner_text()  # the county acts on this step: the full name
    await row.get_by_role("link", name="查看").click()
    text = await county.locator("aside").inner_text()
    assert "入户调查属实，符合条件" in text and "初审" in text


async def test_a_second_reviewer_cannot_act_on_a_claimed_task(live_ui):
    ui = live_ui
    app = await ui.api.apply()
    task = await ui.api.open_task(app["id"], "accept_application")
    first = await ui.login("town_a")
    await first.goto(ui.url + f"/ui/tasks/{task['id']}")
    await first.get_by_role("button", name="认领").click()
    await first.get_by_role("button", name="通过（予以受理）").wait_for()
    second = await ui.login("town_a2")
    assert await second.locator("tr[data-task-id]").count() == 0  # no longer a candidate
    await second.goto(ui.url + f"/ui/tasks/{task['id']}")
    assert (
        "该任务已由 town_a（濉溪镇民政） 认领，您不能办理"
        in await second.locator("#held-by-other").inner_text()
    )
    assert await second.get_by_role("button", name="通过（予以受理）").count() == 0
    # Even a hand-made request with a valid session and token is refused by the domain.
    csrf = await second.locator("input[name=csrf_token]").first.get_attribute("value")
    r = await second.request.post(
        ui.url + f"/ui/tasks/{task['id']}/complete", form={"csrf_token": csrf, "decision": "accept"}
    )
    assert r.status == 409 and "该任务已被他人认领" in await r.text()
    assert (await ui.api.open_task(app["id"]))["assignee"] == "town_a"


async def test_double_click_submits_once(live_ui):
    ui = live_ui
    app = await ui.api.apply()
    page = await ui.login("town_a")
    await _claim_first(ui, page)
    # The holder of an open task is offered the reviewer actions (转办, 退回, …) under one heading.
    assert await page.get_by_role("heading", name="其他操作").count() == 1
    await page.get_by_role("button", name="通过（予以受理）").dblclick()
    await page.wait_for_url(ui.url + "/ui/?*")
    assert (
        "已办结" in await page.get_by_role("status").inner_text()
    )  # not "已办结或已进入下一环节" from a second post
    completed = await ui.api.events(app["id"], "task.completed")
    assert len(completed) == 1


async def test_objection_outcomes_rows_and_login_needed_for_task_pages(live_ui):
    ui = live_ui
    page = await ui.page()
    await page.goto(ui.url + "/ui/tasks/00000000-0000-0000-0000-000000000000")
    assert "/ui/login" in page.url
    await page.get_by_label("用户名").fill("town_a")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url("**/ui/tasks/00000000-0000-0000-0000-000000000000")
    assert "找不到该任务" in await page.locator("main").inner_text()


async def test_county_confirms_with_amount_and_class_and_the_case_page_shows_the_ledger(live_ui):
    ui = live_ui
    app = await ui.api.apply()
    await ui.api.to_notice(app["id"])
    await ui.api.advance(days=8)
    await ui.api.run_timers()
    task = await ui.api.open_task(app["id"], "county_confirm")
    page = await ui.login("county")
    await page.goto(ui.url + f"/ui/tasks/{task['id']}")
    await page.get_by_role("button", name="认领").click()
    await page.get_by_label("月保障金额（元）").fill("六百五")
    await page.get_by_role("button", name="通过（确认纳入低保）").click()
    await page.locator("#form-error").wait_for()
    assert "请输入数字" in await page.locator("[data-field=monthly_amount]").inner_text()
    assert "请填写分类施保类别" in await page.locator("[data-field=dibao_class]").inner_text()
    assert await page.get_by_label("月保障金额（元）").input_value() == "六百五"  # what was typed stays
    await page.get_by_label("月保障金额（元）").fill("650.5")
    await page.get_by_role("radio", name="B类（基本无收入）").check()
    await page.get_by_role("button", name="通过（确认纳入低保）").click()
    await page.wait_for_url(ui.url + "/ui/?*")
    assert (await ui.api.application(app["id"]))["status"] == "approved"
    await page.goto(ui.url + f"/ui/cases/{app['id']}")
    assert "案件已结束：已批准" in await page.locator("main").inner_text()
    assert "650.50元/月" in await page.locator("main").inner_text()
