"""签字 in a browser: on an emergency cash payment the receiver signs with the mouse on the task page
(a PNG saved as the step's signature), an empty box is not sent, completing without the two staff
signatures is refused in Chinese, and on a 360 px phone the box fits the screen and a finger's
strokes (mouse moves) are saved too."""

from tests.web_support import PHONE


async def _emergency_task(api) -> dict:
    r = await api.put(
        "county", "/programs/linshi/settings?division_code=340621", {"values": {"monthly_standard": 800}}
    )
    assert r.status_code == 200, r.text
    case = await api.apply(
        program="linshi",
        family_id="340621100201-户-0061",
        data={"relief_type": "emergency", "hardship": "火灾致房屋损毁"},
    )
    return await api.open_task(case["id"], "emergency_payment")


async def _draw(page, box_locator, strokes=((0.1, 0.7), (0.3, 0.3), (0.5, 0.6), (0.8, 0.25))):
    """Mouse moves across the canvas, as a hand would sign."""
    await box_locator.scroll_into_view_if_needed()
    box = await box_locator.bounding_box()
    x0, y0 = box["x"] + box["width"] * strokes[0][0], box["y"] + box["height"] * strokes[0][1]
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    for fx, fy in strokes[1:]:
        await page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=8)
    await page.mouse.up()


async def test_signatures_are_drawn_on_the_task_page_at_desktop_and_phone_width(live_ui):
    ui = live_ui
    task = await _emergency_task(ui.api)
    page = await ui.login("town_a")
    await page.goto(ui.url + f"/ui/tasks/{task['id']}")
    await page.get_by_role("button", name="认领").click()
    section = page.locator("#signatures")
    assert "受领人签字" in await section.inner_text() and "经办人签字（二）" in await section.inner_text()
    receiver = page.locator('[data-signature="signature.receiver"]')

    # An empty box is not sent: the page says so and nothing is stored.
    await receiver.get_by_label("签字人姓名").fill("李四")
    await receiver.get_by_role("button", name="保存签名").click()
    assert "签名框是空的" in await receiver.locator("[data-signature-hint]").inner_text()
    assert await ui.api.count("attachments") == 0

    await _draw(page, receiver.locator("canvas"))
    await receiver.get_by_role("button", name="保存签名").click()
    await page.wait_for_url(ui.url + f"/ui/tasks/{task['id']}?*")
    assert "已保存签名：李四" in await page.get_by_role("status").inner_text()
    assert "已签字" in await page.locator('[data-signature="signature.receiver"]').inner_text()
    [saved] = (await ui.api.get("town_a", f"/applications/{task['application_id']}/attachments")).json()
    assert (saved["key"], saved["signer_name"], saved["content_type"]) == (
        "signature.receiver",
        "李四",
        "image/png",
    )
    drawn = await ui.api.client.get(
        f"/api/v1/attachments/{saved['id']}/content", headers=ui.api.headers["town_a"]
    )
    assert drawn.content.startswith(b"\x89PNG") and len(drawn.content) > 500
    # Listed with the case's materials by what it is and who signed, never by its key.
    listed = await page.locator(f'#materials [data-attachment="{saved["id"]}"]').inner_text()
    assert "受领人签字" in listed and "手写签名：李四" in listed and "signature." not in listed
    await ui.shot(page, "signature-desktop")

    # Completing the cash payment without the two staff signatures is refused, in Chinese.
    form = page.locator("#task-form")
    await form.get_by_label("先行救助金额（元）").fill("2000")
    await form.get_by_label("发放日期").fill(await ui.api.today())
    await form.get_by_label("现金", exact=True).check()
    await form.get_by_label("急难情形").fill("火灾致房屋损毁")
    await form.get_by_label("受领人签字", exact=True).fill("李四")
    await form.get_by_label("经办人员签字（2名，每行一名）").fill("王芳\n赵强")
    await form.get_by_label("签字日期").fill(await ui.api.today())
    await form.locator("button[type=submit]").first.click()
    await page.locator("#form-error").wait_for()
    error = await page.locator("#form-error").inner_text()
    assert "须签字后才能办结" in error and "经办人签字（一）、经办人签字（二）" in error, error
    assert await ui.api.count("benefits") == 0
    await ui.shot(page, "signature-missing")

    # On a phone: the box fits the 360 px screen and the strokes land where the finger went.
    phone = await ui.login("town_a", viewport=PHONE)
    await phone.goto(ui.url + f"/ui/tasks/{task['id']}")
    staff = phone.locator('[data-signature="signature.staff_1"]')
    box = await staff.locator("canvas").bounding_box()
    assert box["width"] <= PHONE["width"] and abs(box["width"] / box["height"] - 3) < 0.1
    await staff.get_by_label("签字人姓名").fill("王芳")
    await _draw(phone, staff.locator("canvas"), ((0.05, 0.5), (0.4, 0.2), (0.6, 0.8), (0.95, 0.4)))
    await staff.get_by_role("button", name="保存签名").click()
    await phone.wait_for_url(ui.url + f"/ui/tasks/{task['id']}?*")
    assert "已保存签名：王芳" in await phone.get_by_role("status").inner_text()
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    await phone.locator('[data-signature="signature.staff_2"]').scroll_into_view_if_needed()
    await ui.shot(phone, "signature-360")
    # Another township's reviewer sees no such task.
    other = await ui.login("town_b")
    response = await other.goto(ui.url + f"/ui/tasks/{task['id']}")
    assert response.status == 404
