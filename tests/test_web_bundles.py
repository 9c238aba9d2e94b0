"""The admin page in Chromium: a zip bundle uploads like a .bpmn; the version page lists the bundle's
files (uploaded or the shipped defaults) and downloads it, at desktop width and at 360 px."""

import io
import zipfile

from tests.conftest import ADMIN_PASSWORD
from tests.test_bundles import FILES, KEY, _zip
from tests.web_support import PHONE


async def test_admin_uploads_a_bundle_and_downloads_it_again(live_ui, tmp_path):
    page = await live_ui.login("admin", ADMIN_PASSWORD)
    await page.get_by_role("link", name="管理").click()
    path = tmp_path / "hardship.zip"
    path.write_bytes(_zip(FILES))
    await page.get_by_label("流程文件（.bpmn）").set_input_files(str(path))
    await page.get_by_role("button", name="上传").click()
    await page.wait_for_load_state()
    assert (
        "已部署：困难补助（流程包）（bundle_hardship）第1版"
        in await page.locator("#upload-result").inner_text()
    )

    await page.get_by_role("link", name="困难补助（流程包）", exact=True).click()
    files = await page.locator("#bundle-files").inner_text()
    for name in ("bundle_hardship.bpmn", "forms/township_check.json", "forms/county_approve.json"):
        assert name in files, files
    assert "decisions/hardship_amount.dmn" in files and "决策表（DMN）" in files and "随流程包上传" in files
    await live_ui.shot(page, "admin-bundle")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="下载流程包（第1版，.zip）").click()
    saved = tmp_path / "downloaded.zip"
    await (await download.value).save_as(saved)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        assert archive.read("forms/county_approve.json") == FILES["forms/county_approve.json"]

    # A shipped program: its forms are the defaults it took from processes/.
    phone = await live_ui.login("admin", ADMIN_PASSWORD, viewport=PHONE)
    await phone.goto(live_ui.url + "/ui/admin/processes/dibao")
    files = await phone.locator("#bundle-files").inner_text()
    assert "forms/dibao_application.json" in files and "系统默认（processes/）" in files, files
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + 1, width  # the file table folds into rows at 360 px
    await live_ui.shot(phone, "admin-bundle-360")
    assert (await live_ui.api.get("admin", f"/process-definitions/{KEY}")).json()[0]["version"] == 1
