"""Separation of duties (four eyes, staff relatives) and claims that go stale."""

import pytest

from app.config import PROJECT_ROOT
from tests.helpers import Api

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

DIBAO = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_bytes()
APPROVE = {"decision": "approve", "opinion": "属实"}
YEAR_2030 = {"holidays": ["2030-01-01", "2030-06-05"], "working_days": []}


async def _problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    return r.json()


async def test_four_eyes_between_review_steps(api: Api):
    case = await api.apply()
    # Acceptance checks materials only: the same officer may do the initial review.
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    await api.step("town_a", case["id"], "initial_review", APPROVE)
    relayed = await api.message("objection", case["id"], {"reason": "有经营收入"})
    task = await api.open_task(case["id"], "reinvestigate")
    body = await _problem(await api.post("town_a", f"/tasks/{task['id']}/claim"), 403, "four_eyes")
    assert body["steps"] == ["initial_review"]
    await _problem(
        await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": APPROVE}), 403, "four_eyes"
    )
    await _problem(
        await api.post("town_a2", f"/tasks/{task['id']}/assign", {"username": "town_a"}), 403, "four_eyes"
    )
    assert await api.count("tasks", f"id = '{task['id']}' AND state = 'open' AND assignee IS NULL") == 1
    await api.complete(
        "town_a2",
        task["id"],
        {
            **APPROVE,
            "objection_outcomes": [
                {
                    "objection_number": relayed["objection_number"],
                    "outcome": "dismissed",
                    "reply": "经核实无经营收入",
                }
            ],
        },
    )
    await api.advance(days=8)  # the notice runs its whole period before the county has the case
    assert await api.run_timers() == 1
    await api.open_task(case["id"], "county_confirm")


async def test_a_bpmn_may_relax_or_tighten_the_rule(api: Api):
    relaxed = DIBAO.replace(
        b'<spiffworkflow:property name="answers_objections" value="true" />',
        b'<spiffworkflow:property name="answers_objections" value="true" />\n'
        b'          <spiffworkflow:property name="separation_of_duties" value="none" />',
    )
    relaxed = relaxed.replace(
        b'<spiffworkflow:property name="separation_of_duties" value="none" />\n        </spiffworkflow:properties>\n      </bpmn:extensionElements>\n      <bpmn:incoming>flow_start</bpmn:incoming>',
        b'<spiffworkflow:property name="separation_of_duties" value="strict" />\n        </spiffworkflow:properties>\n      </bpmn:extensionElements>\n      <bpmn:incoming>flow_start</bpmn:incoming>',
    )
    assert relaxed.count(b"separation_of_duties") == 2 and b'value="strict"' in relaxed
    await api.upload(relaxed, "dibao.bpmn")
    case = await api.apply()
    await api.step(
        "town_a",
        case["id"],
        "accept_application",
        {"decision": "incomplete", "missing_materials": ["收入证明"]},
    )
    await api.message("materials_supplemented", case["id"])
    # "strict" on acceptance: nobody who completed another step may decide it; the same step again is fine.
    again = await api.open_task(case["id"], "accept_application")
    await api.complete("town_a", again["id"], {"decision": "accept"})
    # Tightened, acceptance is a decision like any review: its officer may not also do the initial review.
    review = await api.open_task(case["id"], "initial_review")
    await _problem(
        await api.post("town_a", f"/tasks/{review['id']}/complete", {"data": APPROVE}), 403, "four_eyes"
    )
    await api.complete("town_a2", review["id"], APPROVE)
    relayed = await api.message("objection", case["id"], {"reason": "异议"})
    await api.step(
        "town_a2",
        case["id"],
        "reinvestigate",
        {
            **APPROVE,
            "objection_outcomes": [
                {
                    "objection_number": relayed["objection_number"],
                    "outcome": "dismissed",
                    "reply": "经核实不属实",
                }
            ],
        },
    )  # relaxed: the same officer may re-investigate


async def test_staff_relative_is_recorded_kept_away_and_visited(api: Api):
    data = {"household_size": 2, "staff_relative": True, "related_staff": "town_a"}
    for bad, code in (
        ({"staff_relative": "yes"}, "invalid_staff_relative"),
        ({"staff_relative": True}, "invalid_related_staff"),
        ({"staff_relative": True, "related_staff": "nobody"}, "invalid_related_staff"),
    ):
        r = await api.post(
            "portal",
            "/applications",
            {
                "program": "dibao",
                "division_code": "340621100201",
                "applicant": {"name": "王某", "id_number": "11010519491231002X"},
                "data": bad,
            },
        )
        await _problem(r, 422, code)
    assert await api.count("applications") == 0

    case = await api.apply(data=data)
    declared = await api.events(case["id"], "application.staff_relative_declared")
    assert declared[0]["data"] == {"related_staff": "town_a"}
    task = case["open_tasks"][0]
    await _problem(await api.post("town_a", f"/tasks/{task['id']}/claim"), 403, "related_staff")
    await _problem(
        await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {"decision": "accept"}}),
        403,
        "related_staff",
    )
    await api.complete("town_a2", task["id"], {"decision": "accept"})
    await api.step("town_a2", case["id"], "initial_review", APPROVE)
    await api.advance(days=8)
    assert await api.run_timers() == 1
    visit = await api.open_task(case["id"], "county_home_visit")
    assert visit["role"] == "county_civil_affairs"
    r = await api.post(
        "county", f"/tasks/{visit['id']}/complete", {"data": {"visited_on": await api.today()}}
    )
    await _problem(r, 422, "form_invalid")
    await api.complete(
        "county",
        visit["id"],
        {
            "visited_on": await api.today(),
            "visitors": ["王芳", "刘强"],
            "findings": "家庭实际生活困难，与申报一致",
        },
    )
    done = await api.step(
        "county", case["id"], "county_confirm", {**APPROVE, "monthly_amount": 600, "dibao_class": "A"}
    )
    assert done["application"]["status"] == "approved"

    # Without the flag there is no home visit.
    plain = await api.apply()
    await api.to_notice(plain["id"])
    await api.advance(days=8)
    await api.run_timers()
    await api.open_task(plain["id"], "county_confirm")


async def test_stale_claims_go_back_to_the_group_and_substitutes_are_audited(api: Api):
    await api.load_year(2030, **YEAR_2030)
    await api.set_clock("2030-03-04T09:00:00+08:00")  # Monday
    case = await api.apply()
    task = case["open_tasks"][0]
    assert (await api.post("town_a", f"/tasks/{task['id']}/claim")).status_code == 200
    await api.set_clock("2030-03-06T23:00:00+08:00")  # two working days later
    assert (await api.post("admin", "/admin/timers/run")).json()["claims_released"] == 0
    await api.set_clock("2030-03-07T09:00:00+08:00")  # three working days later
    assert (await api.post("admin", "/admin/timers/run")).json()["claims_released"] == 1
    assert (await api.post("admin", "/admin/timers/run")).json()["claims_released"] == 0
    released = await api.events(case["id"], "task.claim_released")
    assert released[0]["data"]["previous_assignee"] == "town_a" and released[0]["actor"] == "system"
    assert [t["id"] for t in (await api.get("town_a2", "/tasks")).json()["items"]] == [task["id"]]

    # Holiday replacement: the holder hands the task to a substitute; the trail keeps both.
    await api.post("town_a", f"/tasks/{task['id']}/claim")
    r = await api.post("town_a", f"/tasks/{task['id']}/assign", {"username": "town_a2"})
    assert r.json()["assignee"] == "town_a2"
    assigned = await api.events(case["id"], "task.assigned")
    assert assigned[-1]["actor"] == "town_a" and assigned[-1]["data"] == {
        "assignee": "town_a2",
        "previous_assignee": "town_a",
    }
