"""Bulk completion in a browser: one shared decision, each case its own transition, results per case."""


async def test_bulk_completion_with_per_case_results(live_ui):
    ui = live_ui
    apps = [await ui.api.apply() for _ in range(3)]
    reviews = []
    for app in apps:
        await ui.api.step("town_a", app["id"], "accept_application", {"decision": "accept"})
        review = await ui.api.open_task(app["id"], "initial_review")
        assert (await ui.api.post("town_a2", f"/tasks/{review['id']}/claim")).status_code == 200
        reviews.append(review)
    page = await ui.login("town_a2")
    await page.goto(ui.url + "/ui/?scope=mine")
    await page.get_by_role("link", name="最低生活保障 · 初审（入户调查、信息核对）（3件）").click()
    await page.get_by_role("checkbox", name="全选").check()
    # A shared refusal without its reason: nothing is done at all.
    await page.get_by_role("button", name="不通过（不同意）").click()
    assert "没有办理任何任务" in await page.locator("#form-error").inner_text()
    assert "请填写不予批准的理由" in await page.locator("[data-field=reason]").inner_text()
    assert await ui.api.count("tasks", "state = 'completed' AND name = 'initial_review'") == 0
    # Meanwhile one of them is decided elsewhere (the API); the page still lists it.
    assert await page.locator("input[name=task_id]:checked").count() == 3  # the choice survives the error
    await ui.api.complete("town_a2", reviews[0]["id"], {"decision": "approve", "opinion": "单独办理"})
    await page.get_by_label("审核意见").fill("经入户调查，情况属实")
    await ui.shot(page, "bulk")
    await page.get_by_role("button", name="通过（同意）").click()
    results = page.locator("#bulk-results li")
    assert await results.count() == 3
    text = await page.locator("#bulk-results").inner_text()
    lines = text.splitlines()
    assert (
        sum(line.endswith("：已办结") for line in lines) == 2 and "该任务已办结或案件已进入下一环节" in text
    )
    assert "办结2件，1件未能办结" in await page.locator("#results-h").inner_text()
    for app in apps[1:]:  # each case its own audited completion with the shared opinion
        done = await ui.api.events(app["id"], "task.completed")
        assert done[-1]["data"] == {"decision": "approve", "opinion": "经入户调查，情况属实"}


async def test_steps_needing_case_data_offer_no_bulk_completion(live_ui):
    ui = live_ui
    for _ in range(2):
        app = await ui.api.apply()
        task = await ui.api.open_task(app["id"], "accept_application")
        assert (await ui.api.post("town_a", f"/tasks/{task['id']}/claim")).status_code == 200
    page = await ui.login("town_a")
    await page.goto(ui.url + "/ui/?scope=mine")
    assert (
        await page.locator(".bulk-links").count() == 0
    )  # acceptance needs its own list of missing materials
    await page.goto(ui.url + "/ui/bulk/dibao/accept_application")
    assert "不支持批量办理" in await page.locator("main").inner_text()
