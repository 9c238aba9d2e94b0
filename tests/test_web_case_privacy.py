"""A case's personal data in a browser (app/domain/cases/privacy.py): the county education bureau opens
a 低保 case of its county and reads where it stands with the applicant masked and nothing personal,
finds nobody by ID number or name on 案件查询; the county civil affairs office reads it all."""

from tests.helpers import PASSWORD, id_number


async def test_another_department_reads_the_case_page_masked_and_finds_nobody(live_ui_both):
    ui = live_ui_both
    r = await ui.api.post(
        "admin",
        "/admin/users",
        {
            "username": "county_edu",
            "password": PASSWORD,
            "display_name": "教育局",
            "grants": [{"role": "county_education", "division_code": "340621"}],
        },
    )
    assert r.status_code == 201, r.text
    person = id_number()
    case = await ui.api.apply(
        applicant={"name": "王小明", "id_number": person, "phone": "13912345678"}, data={"household_size": 3}
    )
    await ui.api.step("town_a", case["id"], "accept_application", {"decision": "accept"})

    edu = await ui.login("county_edu")
    response = await edu.goto(ui.url + f"/ui/cases/{case['id']}")
    assert response.status == 200
    summary = await edu.locator("#case-h + p + dl").inner_text()
    assert "王**" in summary and person[:6] + "*" * 8 + person[-4:] in summary
    assert "本案个人信息仅限承办该项目的部门" in await edu.locator("#personal-masked").inner_text()
    text = await edu.locator("main").inner_text()
    assert "王小明" not in text and person not in text and "13912345678" not in text
    assert "家庭人口" not in text  # the application's data (household_size) is withheld
    assert await edu.locator("ol.timeline [data-event='task.completed']").count() == 1  # what happened
    await ui.shot(edu, "case-masked")
    # The open step's page: the case beside it masked the same way.
    task = await ui.api.open_task(case["id"], "initial_review")
    response = await edu.goto(ui.url + f"/ui/tasks/{task['id']}")
    assert response.status == 200
    text = await edu.locator("main").inner_text()
    assert "王**" in text and "王小明" not in text and person not in text and "家庭人口" not in text
    for q in (person, "王小明"):
        await edu.goto(ui.url + "/ui/cases?q=" + q)
        assert case["number"] not in await edu.locator("main").inner_text(), q
    await edu.goto(ui.url + "/ui/cases?q=" + case["number"])
    assert "王**" in await edu.locator("main").inner_text()  # a case by its number: masked

    county = await ui.login("county")
    await county.goto(ui.url + "/ui/cases?q=" + person)
    assert "王小明" in await county.locator("main").inner_text()
    await county.goto(ui.url + f"/ui/cases/{case['id']}")
    assert await county.locator("#personal-masked").count() == 0
    assert "家庭人口" in await county.locator("#case-h ~ dl").inner_text()
    # The county office reads the person too, though the open step is the township's to act on.
    summary = await county.locator("#case-h + dl").inner_text()
    assert "王小明" in summary and person in summary and "13912345678" in summary

    # A delegate (委派) reads the person beside the step it gives an opinion on; once given, no longer.
    r = await ui.api.post(
        "town_a", f"/tasks/{task['id']}/delegate", {"username": "county_edu", "note": "请看"}
    )
    assert r.status_code == 200, r.text
    await edu.goto(ui.url + f"/ui/tasks/{task['id']}")
    summary = await edu.locator("#case-h + dl").inner_text()
    assert "王小明" in summary and person in summary, summary
    # …and in its 我的待办 (the list masks the ID number for everyone).
    await edu.goto(ui.url + "/ui/?scope=mine")
    assert "王小明" in await edu.locator("table.tasks").inner_text()
