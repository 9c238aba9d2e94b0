"""Who may send which message (POST /messages): declared per message in the BPMN (``senders``),
everyone else 403; a portal-relayed objection becomes an objection record like a public one."""

from pathlib import Path

import pytest

from app import engine
from tests.helpers import PASSWORD, VILLAGE_A, Api
from tests.test_inbound_messages import BPMN as INBOUND_BPMN
from tests.test_minban import (
    APPROVE,
    _apply,
    _joint_review,
    edu,  # noqa: F401  (the fixture with the education offices)
)

pytestmark = pytest.mark.dates
PROCESSES = Path(__file__).parent.parent / "processes"


async def _person(api: Api, username: str, role: str, code: str) -> None:
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": username,
            "password": PASSWORD,
            "display_name": username,
            "grants": [{"role": role, "division_code": code}],
        },
    )
    assert r.status_code == 201, r.text
    await api.login(username)


async def test_a_village_user_cannot_object_and_a_relayed_objection_is_a_record(api: Api):
    await _person(api, "village_a", "village_civil_affairs", VILLAGE_A)
    case = await api.apply()
    await api.to_notice(case["id"])
    before = len(await api.events(case["id"]))
    for who in (
        "village_a",
        "town_a",
        "county",
    ):  # they can see the case, yet objection is not theirs to send
        r = await api.post(
            who,
            "/messages",
            {"name": "objection", "application_id": case["id"], "payload": {"reason": "家中有经营性收入"}},
        )
        assert r.status_code == 403 and r.json()["code"] == "message_not_allowed", (who, r.text)
    assert len(await api.events(case["id"])) == before
    assert await api.count("objections") == 0
    assert [t["name"] for t in (await api.application(case["id"]))["open_tasks"]] == []  # still on notice

    relayed = await api.message(
        "objection", case["id"], {"reason": "家中有经营性收入", "contact": "13700000000"}
    )
    assert relayed["objection_number"].startswith("YY") and relayed["check_code"]
    r = await api.client.get(
        f"/api/v1/public/objections/{relayed['objection_number']}", params={"code": relayed["check_code"]}
    )
    assert r.status_code == 200 and r.json()["status"] == "received", r.text
    received = await api.events(case["id"], "objection.received")
    assert received[0]["data"]["relayed_by"] == "portal"
    task = await api.open_task(case["id"], "reinvestigate")
    shown = (await api.get("town_a", f"/tasks/{task['id']}")).json()
    assert [o["number"] for o in shown["objections"]] == [relayed["objection_number"]]
    # Like a public objection, it must be answered before the re-investigation ends.
    r = await api.post(
        "town_a2", f"/tasks/{task['id']}/complete", {"data": {"decision": "approve", "opinion": "核实"}}
    )
    assert r.status_code == 422 and r.json()["code"] == "objection_outcomes_missing", r.text


async def test_materials_from_portal_or_the_township_acceptance_office(api: Api):
    case = await api.apply()
    await api.step(
        "town_a",
        case["id"],
        "accept_application",
        {"decision": "incomplete", "missing_materials": ["户口簿复印件"]},
    )
    body = {
        "name": "materials_supplemented",
        "application_id": case["id"],
        "payload": {"materials": ["户口簿复印件"]},
    }
    r = await api.post("county", "/messages", body)
    assert r.status_code == 403 and r.json()["code"] == "message_not_allowed"
    r = await api.post("town_a", "/messages", body)
    assert r.status_code == 202, r.text
    await api.open_task(case["id"], "accept_application")


async def test_undeclared_senders_mean_portal_only(api: Api):
    await api.upload(INBOUND_BPMN, "inbound_demo.bpmn")
    case = await api.apply(program="inbound_demo")
    r = await api.post(
        "town_a", "/messages", {"name": "person_deceased", "application_id": case["id"], "payload": {}}
    )
    assert r.status_code == 403 and r.json()["code"] == "message_not_allowed"
    r = await api.post(
        "town_a",
        "/messages",
        {"name": "person_deceased", "id_number": case["applicant"]["id_number"], "payload": {}},
    )
    assert r.status_code == 403  # by person as well
    assert (await api.application(case["id"]))["status"] == "in_progress"
    await api.message("person_deceased", case["id"])
    assert (await api.application(case["id"]))["status"] == "terminated"


async def test_an_enrolment_ends_only_by_its_declared_senders(edu):
    case = await _apply(edu)
    await _joint_review(edu, case["id"])
    await edu.advance(days=8)
    await edu.run_timers()
    await edu.step("edu", case["id"], "county_confirm", APPROVE)
    await edu.step("edu_city", case["id"], "city_recheck", APPROVE)
    await edu.set_clock("2027-03-20T09:00:00+08:00")
    body = {"name": "person_deceased", "application_id": case["id"], "payload": {"died_on": "2027-03-15"}}
    r = await edu.post("finance", "/messages", body)  # sees the case (county), not the program's department
    assert r.status_code == 403 and r.json()["code"] == "message_not_allowed", r.text
    assert (await edu.application(case["id"]))["status"] == "approved"
    r = await edu.post("edu", "/messages", body)
    assert r.status_code == 202, r.text
    assert (await edu.application(case["id"]))["status"] == "terminated"


def test_every_shipped_message_declares_its_senders():
    expected = {
        "objection": "portal",
        "materials_supplemented": "portal, township_civil_affairs",
        "person_deceased": "portal, township_education, county_education",
        "pupil_left": "portal, kindergarten_head, county_education",
    }
    decisions = {p.stem: p.read_bytes() for p in (PROCESSES / "decisions").glob("*.dmn")}
    for path in sorted(PROCESSES.glob("*.bpmn")):
        model = engine.parse_bpmn(path.read_bytes(), decisions)
        names = set(model.message_names) | set(model.properties.get("enrolment_messages", "").split(",")) - {
            ""
        }
        for name in {n.split(":")[0] for n in names}:
            assert model.message_properties.get(name, {}).get("senders") == expected[name], (path.name, name)
