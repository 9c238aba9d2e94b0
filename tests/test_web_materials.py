"""材料 in a browser: the portal's document listed on the task, a reviewer uploads a home-visit
photo (303 back to the task), previews it in a new tab without its GPS position, downloads the
PDF; a bad file is refused in Chinese; a reviewer elsewhere cannot open the link; 360 px wide."""

import io

from PIL import Image

from tests.helpers import PASSWORD
from tests.materials_samples import GPS_TAG, pdf, photo_with_gps
from tests.web_support import PHONE


async def test_a_reviewer_uploads_previews_and_downloads_materials_on_the_task(live_ui, tmp_path):
    ui = live_ui
    case = await ui.api.apply()
    document = pdf(1)
    r = await ui.api.client.post(
        f"/api/v1/applications/{case['id']}/attachments",
        files={"file": ("户口簿.pdf", document)},
        data={"key": "hukou"},
        headers=ui.api.headers["portal"],
    )
    assert r.status_code == 201, r.text
    task = await ui.api.open_task(case["id"], "accept_application")

    page = await ui.login("town_a")
    await page.goto(ui.url + f"/ui/tasks/{task['id']}")
    materials = page.locator("#materials")
    assert "户口簿" in await materials.locator("[data-attachment]").first.inner_text()
    await page.get_by_label("材料类别").select_option(label="入户调查照片")
    await page.get_by_label("文件（PDF、JPG、PNG、WebP）").set_input_files(
        {"name": "IMG_0001.JPG", "mimeType": "image/jpeg", "buffer": photo_with_gps()}
    )
    await page.get_by_role("button", name="上传材料").click()
    await page.wait_for_url(ui.url + f"/ui/tasks/{task['id']}?*")
    assert "已上传材料：IMG_0001.jpg" in await page.get_by_role("status").inner_text()
    rows = materials.locator("[data-attachment]")
    assert await rows.count() == 2
    assert "入户调查照片" in await rows.nth(1).inner_text() and "town_a" in await rows.nth(1).inner_text()

    # The preview opens in a new tab, inline, and the photo no longer says where it was taken.
    async with page.context.expect_page() as opened:
        await rows.nth(1).locator("a.preview").click()
    preview = await opened.value
    await preview.wait_for_load_state()
    assert await preview.locator("img").count() == 1  # Chromium's own image document
    await ui.shot(preview, "preview")
    # The same link as the browser's session fetches it: inline, not sniffable, sandboxed.
    fetched = await page.request.get(preview.url)
    headers = fetched.headers
    assert headers["content-type"] == "image/jpeg" and headers["content-disposition"].startswith("inline;")
    assert headers["x-content-type-options"] == "nosniff" and "sandbox" in headers["content-security-policy"]
    image = Image.open(io.BytesIO(await fetched.body()))
    assert not image.getexif().get_ifd(GPS_TAG)

    # The PDF downloads as an attachment with the same bytes.
    async with page.expect_download() as downloading:
        await rows.nth(0).locator("a.download").click()
    download = await downloading.value
    assert download.suggested_filename == "户口簿.pdf"
    saved = tmp_path / "downloaded.pdf"
    await download.save_as(saved)
    assert saved.read_bytes() == document

    # A program renamed .pdf is refused, in Chinese, and nothing is added.
    await page.get_by_label("文件（PDF、JPG、PNG、WebP）").set_input_files(
        {"name": "申请书.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" + b"\x00" * 400}
    )
    await page.get_by_role("button", name="上传材料").click()
    await page.wait_for_url(ui.url + f"/ui/tasks/{task['id']}?*")
    assert "不接受此类文件（Windows 可执行程序）" in await page.get_by_role("status").inner_text()
    assert await materials.locator("[data-attachment]").count() == 2
    await ui.shot(page, "task-materials")

    # Who read what: the preview (twice: the tab and the check above) and the download, by town_a.
    reads = [
        (e["type"], e["actor"])
        for e in await ui.api.events(case["id"])
        if e["type"] in ("attachment.previewed", "attachment.downloaded")
    ]
    assert ("attachment.previewed", "town_a") in reads and ("attachment.downloaded", "town_a") in reads

    # A township elsewhere gets no document, whatever link it is given.
    other = await ui.login("town_b")
    attachment = await rows.nth(0).get_attribute("data-attachment")
    response = await other.goto(ui.url + f"/ui/attachments/{attachment}/content?preview=1")
    assert response.status == 404 and "材料不存在或您无权查看" in await other.content()

    # 材料不齐 without a list: the form comes back with the checklist's missing items proposed.
    assert (
        "缺少的必交材料（一次性告知）：申请书（签字）、身份证"
        in await materials.locator("[data-missing]").inner_text()
    )
    await page.get_by_role("button", name="认领").click()
    await page.get_by_role("button", name="不通过（材料不齐，一次性告知）").click()
    await page.locator("#form-error").wait_for()
    proposed = await page.get_by_label("需补齐的材料（一次性告知全部）").input_value()
    assert proposed.splitlines() == [
        "申请书（签字）",
        "身份证",
        "家庭收入证明",
        "家庭财产申报",
        "家庭经济状况核对授权书（签字）",
    ]
    assert (
        "已按材料清单列出缺少的必交材料" in await page.locator("[data-field=missing_materials]").inner_text()
    )
    await ui.shot(page, "one-time-notice")
    await page.get_by_role("button", name="不通过（材料不齐，一次性告知）").click()
    await page.wait_for_url(ui.url + "/ui/?*")
    [done] = [e for e in await ui.api.events(case["id"]) if e["type"] == "task.completed"]
    assert done["data"]["missing_materials"] == proposed.splitlines()

    # The case page at 360 px: nothing wider than the screen.
    phone = await ui.login("county", PASSWORD, viewport=PHONE)
    await phone.goto(ui.url + f"/ui/cases/{case['number']}")
    section = phone.locator("#materials")
    assert "入户调查照片" in await section.inner_text()
    assert await phone.locator("#materials form").count() == 0  # the county holds no open step here
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    await section.scroll_into_view_if_needed()
    await ui.shot(phone, "case-materials-360")
