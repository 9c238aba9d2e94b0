"""Who reads a case's materials (app/domain/materials/access.py), over REST on both databases: the
offices of the program's department at or above the case read them; the county education bureau,
which reads the 低保 case itself, does not; nor a village of another township, a portal of another
county, or a portal reading what reviewers added; a person asked for an opinion (委派) reads them
while the step waits for them; an administrator reads everything. Refusals are problems with a
stable code and change nothing; the check costs one statement per request, not one per document."""

import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import ADMIN_PASSWORD, RunningApp
from tests.helpers import VILLAGE_A, VILLAGE_B, Api
from tests.materials_samples import pdf, photo_with_gps

OTHERS = {
    "county_edu": ("county_education", "340621"),
    "village_b": ("village_civil_affairs", VILLAGE_B),
    "village_a": ("village_civil_affairs", VILLAGE_A),
    "town_health": ("township_health", "340621100"),
    "city": ("city_civil_affairs", "3406"),
}


@pytest.fixture
async def app_and_api(database_url):
    running = RunningApp(database_url)
    async with running as client:
        api = Api(client, database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        await api.add_people(OTHERS)
        for name, code in (("portal_xiao", "340622"), ("portal2", "340621")):
            r = await api.post(
                "admin",
                "/admin/api-keys",
                {"name": name, "grants": [{"role": "portal", "division_code": code}]},
            )
            assert r.status_code == 201, r.text
            api.headers[name] = {"X-API-Key": r.json()["key"]}
        yield running.app, api


async def add(api: Api, who: str, case_id: str, content: bytes, name: str, key: str) -> dict:
    r = await api.client.post(
        f"/api/v1/applications/{case_id}/attachments",
        files={"file": (name, content)},
        data={"key": key},
        headers=api.headers[who],
    )
    assert r.status_code == 201, r.text
    return r.json()


async def a_case_with_documents(api: Api) -> tuple[dict, dict, dict]:
    """A 低保 case at village A with the portal's 户口簿 and the township's home-visit photo."""
    case = await api.apply()
    hukou = await add(api, "portal", case["id"], pdf(2), "户口簿.pdf", "hukou")
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    photo = await add(api, "town_a", case["id"], photo_with_gps(), "入户.jpg", "home_visit_photo")
    return case, hukou, photo


def refused(r, status: int, code: str) -> None:
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "户口簿" not in r.text and "入户" not in r.text


async def reads_of(api: Api, case_id: str) -> list[tuple[str, str]]:
    return [(e["type"], e["actor"]) for e in await api.events(case_id) if e["type"].startswith("attachment.")]


async def test_the_programs_department_reads_the_materials_another_department_does_not(app_and_api):
    _, api = app_and_api
    case, hukou, photo = await a_case_with_documents(api)
    docs = [hukou["id"], photo["id"]]

    # The program's department at the township, the county and the city, its village office, and an
    # administrator: the list, the checklist, the download and the preview (the thumbnail).
    for who in ("town_a", "county", "city", "village_a", "admin"):
        r = await api.get(who, f"/applications/{case['id']}/attachments")
        assert r.status_code == 200, (who, r.text)
        assert [a["id"] for a in r.json()] == docs, who
        assert (await api.get(who, f"/applications/{case['id']}/checklist")).status_code == 200, who
        for doc in docs:
            assert (await api.get(who, f"/attachments/{doc}/content")).status_code == 200, who
            r = await api.get(who, f"/attachments/{doc}/content", preview="true")
            assert r.status_code == 200 and r.headers["content-disposition"].startswith("inline;"), who
    before = await reads_of(api, case["id"])
    assert len(before) == 5 * 4

    # The county education bureau reads the case (it covers the county) but not its materials.
    assert (await api.get("county_edu", f"/applications/{case['id']}")).status_code == 200
    refused(
        await api.get("county_edu", f"/applications/{case['id']}/attachments"), 403, "materials_not_readable"
    )
    refused(
        await api.get("county_edu", f"/applications/{case['number']}/checklist"),
        403,
        "materials_not_readable",
    )
    # Its links to a document answer exactly like a document that does not exist.
    strangers = {
        "county_edu": "materials_not_readable",
        "village_b": "application_not_found",
        "other_county": "application_not_found",
        "portal_xiao": "application_not_found",
        "portal2": "application_not_found",
    }
    for who, list_code in strangers.items():
        if list_code == "application_not_found":
            refused(await api.get(who, f"/applications/{case['id']}/attachments"), 404, list_code)
            refused(await api.get(who, f"/applications/{case['id']}/checklist"), 404, list_code)
        for doc in [*docs, str(uuid.uuid4())]:
            refused(await api.get(who, f"/attachments/{doc}/content"), 404, "attachment_not_found")
            r = await api.get(who, f"/attachments/{doc}/content", preview="true")
            refused(r, 404, "attachment_not_found")
    # A refusal records no read and changes nothing.
    assert await reads_of(api, case["id"]) == before
    assert await api.count("attachments") == 2


async def test_a_portal_reads_the_documents_it_uploaded_on_its_own_cases(app_and_api):
    _, api = app_and_api
    case, hukou, photo = await a_case_with_documents(api)
    listed = (await api.get("portal", f"/applications/{case['id']}/attachments")).json()
    assert [a["id"] for a in listed] == [hukou["id"]]
    assert (await api.get("portal", f"/attachments/{hukou['id']}/content")).status_code == 200
    # The reviewer's home-visit photo is the office's, not the portal's.
    refused(await api.get("portal", f"/attachments/{photo['id']}/content"), 404, "attachment_not_found")
    # It still reads the checklist of its case, to know what to supplement (一次性告知).
    checklist = (await api.get("portal", f"/applications/{case['id']}/checklist")).json()
    assert "身份证" in checklist["missing"]
    assert await reads_of(api, case["id"]) == [("attachment.downloaded", "portal")]


async def test_whom_an_open_step_waits_for_reads_the_materials_while_it_waits(app_and_api):
    _, api = app_and_api
    case, hukou, _ = await a_case_with_documents(api)
    task = await api.open_task(case["id"], "initial_review")
    refused(
        await api.get("town_health", f"/applications/{case['id']}/attachments"), 403, "materials_not_readable"
    )
    # 委派: the township reviewer asks the health office for an opinion on the medical papers.
    r = await api.post(
        "town_a", f"/tasks/{task['id']}/delegate", {"username": "town_health", "note": "请看诊断"}
    )
    assert r.status_code == 200, r.text
    assert len((await api.get("town_health", f"/applications/{case['id']}/attachments")).json()) == 2
    assert (await api.get("town_health", f"/attachments/{hukou['id']}/content")).status_code == 200
    r = await api.post("town_health", f"/tasks/{task['id']}/resolve", {"opinion": "诊断属实"})
    assert r.status_code == 200, r.text
    # Its opinion given, the step no longer waits for it: the documents close again.
    refused(
        await api.get("town_health", f"/applications/{case['id']}/attachments"), 403, "materials_not_readable"
    )
    refused(await api.get("town_health", f"/attachments/{hukou['id']}/content"), 404, "attachment_not_found")


async def test_the_check_costs_one_statement_whatever_the_number_of_documents(app_and_api):
    app, api = app_and_api
    few, _, _ = await a_case_with_documents(api)
    many, _, _ = await a_case_with_documents(api)
    for n in range(4):
        await add(api, "portal", many["id"], pdf(3 + n), f"证明{n}.pdf", "other")
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    async def cost(who: str, path: str, status: int = 200) -> int:
        statements.clear()
        r = await api.get(who, path)
        assert r.status_code == status, r.text
        return len(statements)

    engine = app.state.db.sync_engine
    for path in (f"/applications/{few['id']}/attachments", f"/applications/{many['id']}/attachments"):
        await api.get("county", path)  # the definitions are parsed once per process (immutable)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        listing = {
            (who, case["id"]): await cost(who, f"/applications/{case['id']}/attachments", status)
            for who, status in (("admin", 200), ("county", 200), ("town_health", 403))
            for case in (few, many)
        }
        docs = (await api.get("admin", f"/applications/{many['id']}/attachments")).json()
        reading = [await cost("county", f"/attachments/{d['id']}/content") for d in docs]
        admin_reading = await cost("admin", f"/attachments/{docs[0]['id']}/content")
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    # An administrator's check asks nothing; staff's asks one statement; six documents cost what two do.
    assert listing["county", few["id"]] == listing["county", many["id"]] == listing["admin", few["id"]] + 1
    assert listing["admin", few["id"]] == listing["admin", many["id"]]
    # A refused caller stops at the check: the same statement, then no list.
    assert listing["town_health", many["id"]] == listing["county", many["id"]] - 1
    assert set(reading) == {admin_reading + 1}
