"""材料 in a browser, on both databases: the county's civil affairs office and an administrator see
the 材料 panel of a 低保 case and open its documents; the county education bureau opens the case page
but its 材料 panel says the documents are not theirs and names none, and a document's link answers
404; a village of another township gets neither the case nor the document."""

from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD, VILLAGE_B
from tests.materials_samples import pdf

OTHERS = {"county_edu": ("county_education", "340621"), "village_b": ("village_civil_affairs", VILLAGE_B)}


async def test_the_materials_panel_and_links_open_only_to_the_programs_offices(live_ui_both):
    ui = live_ui_both
    await ui.api.add_people(OTHERS)
    case = await ui.api.apply()
    r = await ui.api.client.post(
        f"/api/v1/applications/{case['id']}/attachments",
        files={"file": ("户口簿.pdf", pdf(1))},
        data={"key": "hukou"},
        headers=ui.api.headers["portal"],
    )
    assert r.status_code == 201, r.text
    doc = r.json()["id"]
    task = await ui.api.open_task(case["id"], "accept_application")

    for who, password in (("county", PASSWORD), ("admin", ADMIN_PASSWORD)):
        page = await ui.login(who, password)
        await page.goto(ui.url + f"/ui/cases/{case['number']}")
        assert "户口簿" in await page.locator("#materials [data-attachment]").inner_text(), who
        response = await page.goto(ui.url + f"/ui/attachments/{doc}/content?preview=1")
        assert response.status == 200, who

    edu = await ui.login("county_edu")
    for path in (f"/ui/cases/{case['number']}", f"/ui/tasks/{task['id']}"):
        response = await edu.goto(ui.url + path)
        assert response.status == 200, path
        panel = edu.locator("#materials[data-materials-closed]")
        assert "本案材料仅限承办该项目的部门和当前环节的经办人查阅" in await panel.inner_text()
        assert await edu.locator("[data-attachment]").count() == 0
        assert await edu.locator("[data-checklist], [data-missing]").count() == 0
        assert "户口簿.pdf" not in await edu.content()
    await ui.shot(edu, "materials-closed")
    for link in (f"/ui/attachments/{doc}/content?preview=1", f"/ui/attachments/{doc}/content"):
        response = await edu.goto(ui.url + link)
        assert response.status == 404 and "材料不存在或您无权查看" in await edu.content(), link

    village = await ui.login("village_b")
    response = await village.goto(ui.url + f"/ui/cases/{case['number']}")
    assert response.status == 404
    response = await village.goto(ui.url + f"/ui/attachments/{doc}/content?preview=1")
    assert response.status == 404 and "材料不存在或您无权查看" in await village.content()

    # Only the two readers' previews are in the trail: a refusal records nothing.
    reads = [
        (e["type"], e["actor"])
        for e in await ui.api.events(case["id"])
        if e["type"].startswith("attachment.")
    ]
    assert reads == [("attachment.previewed", "county"), ("attachment.previewed", "admin")]
