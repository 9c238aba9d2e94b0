"""The minimum living allowance path end to end, as a portal and reviewers drive it over REST."""

import pytest

from tests.helpers import Api, id_number
from tests.row_barrier import collide

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

APPROVE = {"decision": "approve", "opinion": "经入户调查、信息核对，符合条件"}
CONFIRM = {"decision": "approve", "opinion": "同意纳入", "monthly_amount": 580, "dibao_class": "B"}


async def test_full_path_to_approval(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    case = await api.apply()
    assert case["status"] == "in_progress" and case["definition_version"] == 1
    assert [t["name"] for t in case["open_tasks"]] == ["accept_application"]
    assert case["open_tasks"][0]["division_code"] == "340621100"  # the village's township holds it

    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    review = await api.open_task(case["id"], "initial_review")
    assert review["due_at"] == "2026-12-07T15:59:59Z"  # 10 working days: Monday 7 December, 24:00
    result = await api.complete("town_a", review["id"], APPROVE)
    assert result["next_tasks"] == []  # the public notice runs on a timer, nobody's task

    assert await api.run_timers() == 0
    await api.advance(days=6, seconds=86000)
    assert await api.run_timers() == 0
    assert (await api.application(case["id"]))["open_tasks"] == []
    await api.advance(seconds=500)
    assert await api.run_timers() == 1

    confirm = await api.open_task(case["id"], "county_confirm")
    assert confirm["role"] == "county_civil_affairs" and confirm["division_code"] == "340621"
    result = await api.complete("county", confirm["id"], CONFIRM)
    assert result["application"]["status"] == "approved"
    assert result["application"]["open_tasks"] == [] and result["next_tasks"] == []
    assert await api.count("timers", "fired_at IS NULL") == 0
    metrics = (await api.client.get("/metrics/")).text
    assert (
        'aidflow_task_completions_total{program="dibao"}' in metrics
        and "aidflow_timers_fired_total" in metrics
    )


async def test_supplement_loop_returns_to_acceptance(api: Api):
    case = await api.apply()
    task = await api.open_task(case["id"], "accept_application")
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {"decision": "incomplete"}})
    assert r.status_code == 422 and r.json()["code"] == "form_invalid"
    await api.complete(
        "town_a",
        task["id"],
        {"decision": "incomplete", "missing_materials": ["户口簿复印件", "家庭收入证明"]},
    )
    assert (await api.application(case["id"]))["open_tasks"] == []
    await api.message("objection", case["id"], {"reason": "x"}, expect=409)

    await api.message("materials_supplemented", case["id"], {"materials": ["户口簿复印件", "家庭收入证明"]})
    again = await api.open_task(case["id"], "accept_application")
    assert again["id"] != task["id"]
    await api.message("materials_supplemented", case["id"], expect=409)
    await api.complete("town_a", again["id"], {"decision": "accept"})
    await api.open_task(case["id"], "initial_review")


async def test_objection_leads_to_reinvestigation_then_county(api: Api):
    case = await api.apply()
    await api.to_notice(case["id"])
    await api.message("objection", case["id"], {"contact": "村民"}, expect=422)
    first = await api.message(
        "objection", case["id"], {"reason": "家中有经营性收入", "contact": "13700000000"}
    )
    reinvestigate = await api.open_task(case["id"], "reinvestigate")
    assert reinvestigate["role"] == "township_civil_affairs"
    # Relayed objections take the public form's path: during the re-investigation one more is
    # recorded for the open step to answer too (it no longer moves the case).
    again = await api.message("objection", case["id"], {"reason": "again"})
    assert await api.count("objections", f"application_id = '{case['id']}'") == 2

    # The notice timer was passed by the objection branch: it never fires.
    await api.advance(days=30)
    assert await api.run_timers() == 0
    outcomes = [
        {"objection_number": o["objection_number"], "outcome": "dismissed", "reply": "经核实不属实"}
        for o in (first, again)
    ]
    await api.complete(
        "town_a2", reinvestigate["id"], {**APPROVE, "objection_outcomes": outcomes}
    )  # four eyes
    confirm = await api.open_task(case["id"], "county_confirm")
    done = await api.complete("county", confirm["id"], CONFIRM)
    assert done["application"]["status"] == "approved"


async def test_objection_upheld_leads_to_refusal(api: Api):
    case = await api.apply()
    await api.to_notice(case["id"])
    relayed = await api.message("objection", case["id"], {"reason": "有车辆"})
    await api.step(
        "town_a2",
        case["id"],
        "reinvestigate",
        {
            "decision": "refuse",
            "reason": "家庭拥有机动车辆",
            "objection_outcomes": [
                {
                    "objection_number": relayed["objection_number"],
                    "outcome": "upheld",
                    "reply": "家庭拥有机动车辆，异议成立",
                }
            ],
        },
    )
    notice = await api.open_task(case["id"], "deliver_refusal_notice")
    done = await api.complete("town_a", notice["id"], {"delivered_on": await api.today(), "method": "post"})
    assert done["application"]["status"] == "refused"


async def test_refusal_at_initial_review(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    case = await api.apply()
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    review = await api.open_task(case["id"], "initial_review")
    r = await api.post("town_a", f"/tasks/{review['id']}/complete", {"data": {"decision": "refuse"}})
    assert r.status_code == 422 and r.json()["code"] == "form_invalid"
    assert r.headers["content-type"] == "application/problem+json"
    await api.complete("town_a", review["id"], {"decision": "refuse", "reason": "收入超过低保标准"})
    notice = await api.open_task(case["id"], "deliver_refusal_notice")
    assert notice["due_at"] == "2026-11-26T15:59:59Z"  # 3 working days: Thursday, 24:00
    for bad in (
        {"delivered_on": await api.today(), "method": "pigeon"},
        {"delivered_on": "30/11/2026", "method": "post"},
        {"method": "post"},
    ):
        r = await api.post("town_a", f"/tasks/{notice['id']}/complete", {"data": bad})
        assert r.status_code == 422, bad
    # A delivery is recorded after it happened: tomorrow's date is refused, with nothing changed.
    r = await api.post(
        "town_a",
        f"/tasks/{notice['id']}/complete",
        {"data": {"delivered_on": await api.today(days=1), "method": "in_person"}},
    )
    assert r.status_code == 422 and r.json()["code"] == "form_invalid"
    assert [(e["field"], e["rule"]) for e in r.json()["errors"]] == [("delivered_on", "x-not-after-today")]
    assert (await api.open_task(case["id"], "deliver_refusal_notice"))["id"] == notice["id"]
    done = await api.complete(
        "town_a", notice["id"], {"delivered_on": await api.today(), "method": "in_person"}
    )
    assert done["application"]["status"] == "refused"


async def test_refusal_at_county(api: Api):
    case = await api.apply()
    await api.to_notice(case["id"])
    await api.advance(days=8)
    assert await api.run_timers() == 1
    await api.step(
        "county", case["id"], "county_confirm", {"decision": "refuse", "reason": "抽查发现隐瞒收入"}
    )
    notice = await api.open_task(case["id"], "deliver_refusal_notice")
    assert notice["division_code"] == "340621100"  # the township delivers the county's refusal
    done = await api.complete(
        "town_a", notice["id"], {"delivered_on": await api.today(), "method": "electronic"}
    )
    assert done["application"]["status"] == "refused"
    # A refused person may apply again.
    again = await api.apply(applicant=(await api.application(case["id"]))["applicant"])
    assert again["status"] == "in_progress"


async def test_audit_trail_lists_actor_step_and_data(api: Api):
    case = await api.apply()
    await api.to_notice(case["id"])
    relayed = await api.message("objection", case["id"], {"reason": "有异议"})
    r = await api.get("county", f"/applications/{case['id']}/events")
    assert r.status_code == 200
    events = r.json()
    kinds = [(e["type"], e["actor"], e["task"]) for e in events]
    assert kinds[0] == ("application.submitted", "portal", None)
    assert ("task.completed", "town_a", "accept_application") in kinds
    assert ("task.completed", "town_a", "initial_review") in kinds
    assert ("message.received", "portal", None) in kinds
    review = next(e for e in events if e["type"] == "task.completed" and e["task"] == "initial_review")
    assert review["data"] == {"decision": "approve", "opinion": "情况属实"}
    assert all(e["at"] for e in events)
    objection = next(e for e in events if e["type"] == "message.received")
    assert objection["data"]["payload"] == {
        "reason": "有异议",
        "objection_number": relayed["objection_number"],
    }


async def test_restart_continues_a_case_mid_notice(api: Api, running_app):
    case = await api.apply()
    await api.to_notice(case["id"])
    admin_headers = api.headers["admin"]
    async with running_app(api.database_url) as client:  # a second instance, as after a restart
        r = await client.post(
            "/api/v1/admin/clock", json={"advance_seconds": 8 * 86400}, headers=admin_headers
        )
        assert r.status_code == 200
        r = await client.post("/api/v1/admin/timers/run", headers=admin_headers)
        assert r.json()["fired"] == 1
        r = await client.get(f"/api/v1/applications/{case['id']}", headers=admin_headers)
        assert [t["name"] for t in r.json()["open_tasks"]] == ["county_confirm"]


async def test_the_approval_record_names_people_results_and_working_days(api: Api):
    """审批记录: step, the handler's name (not login), result, opinion, arrival, completion, working days."""
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    case = await api.apply()
    await api.advance(days=1)
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    await api.advance(days=3)  # Thursday
    await api.step(
        "town_a", case["id"], "initial_review", {"decision": "approve", "opinion": "经入户调查，情况属实"}
    )
    record = (await api.get("county", f"/applications/{case['id']}/record")).json()
    assert [(r["step"], r["handler"], r["result"], r["opinion"], r["working_days"]) for r in record] == [
        ("accept_application", "town_a", "accept", None, 1),
        ("initial_review", "town_a", "approve", "经入户调查，情况属实", 3),
    ]
    assert record[0]["handler_name"] == "town_a" and record[1]["completed_at"]
    # Who may not read it: another county, a stranger.
    assert (await api.get("other_county", f"/applications/{case['id']}/record")).status_code == 404
    assert (await api.client.get(f"/api/v1/applications/{case['id']}/record")).status_code == 401


async def test_case_query_by_id_number_name_step_and_date(api: Api):
    """案件查询: a case in its notice period has no open step and was found nowhere before."""
    await api.set_clock("2026-11-23T09:00:00+08:00")
    person = {"name": "欧阳娜娜", "id_number": id_number(), "phone": "13900000000"}
    on_notice = await api.apply(applicant=person)
    await api.to_notice(on_notice["id"])
    await api.advance(days=2)
    other = await api.apply(applicant={"name": "张三", "id_number": id_number(), "phone": "13900000001"})

    async def found(who: str = "county", **params) -> list[str]:
        r = await api.get(who, "/applications", **params)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    assert await found(q=person["id_number"]) == [on_notice["id"]]
    assert await found(q="娜娜") == [on_notice["id"]]
    assert await found(q=on_notice["id"][:8]) == [on_notice["id"]]
    assert await found(step="accept_application") == [other["id"]]
    assert await found(submitted_to="2026-11-23") == [on_notice["id"]]
    assert await found(submitted_from="2026-11-25") == [other["id"]]
    assert await found(q="%") == [] and await found(q="_") == []  # wildcards are plain characters
    # The same masking and scope as everywhere: another county finds nothing.
    assert await found("other_county", q=person["id_number"]) == []
    # A list row names the open steps as GET /applications/{id} does (it was always empty before).
    listed = {c["id"]: c for c in (await api.get("county", "/applications")).json()["items"]}
    assert [t["name"] for t in listed[other["id"]]["open_tasks"]] == ["accept_application"]
    assert listed[on_notice["id"]]["open_tasks"] == []  # in its notice period: no open step
    for case in (other, on_notice):
        detail = (await api.get("county", f"/applications/{case['id']}")).json()
        assert listed[case["id"]]["open_tasks"] == detail["open_tasks"]


async def test_case_numbers_are_sequential_per_county_and_year_without_gaps(api: Api):
    """DB-340621-2026-000001, …: said on the phone, accepted wherever a case id is."""

    year = (await api.today())[:4]
    first = await api.apply()
    refused = await api.apply(expect=409, applicant={**first["applicant"]})  # a duplicate: no number spent
    assert (refused["code"], refused["existing_id"]) == ("active_application_exists", first["id"]), refused
    # Eight at once, all waiting at the county's counter row until the last has arrived (PostgreSQL).
    many = await collide(
        api.database_url,
        "case_number_counters",
        {"program": "dibao", "area_code": "340621", "year": int(year)},
        "INSERT INTO case_number_counters",
        *(api.apply() for _ in range(8)),
    )
    numbers = sorted(c["number"] for c in [first, *many])
    assert numbers == [f"DB-340621-{year}-{n:06d}" for n in range(1, 10)]
    elsewhere = await api.apply(division_code="340621101201")  # another township, the same county
    assert elsewhere["number"] == f"DB-340621-{year}-000010"
    by_number = await api.get("county", f"/applications/{first['number']}")
    assert by_number.status_code == 200 and by_number.json()["id"] == first["id"]
    assert (await api.get("county", f"/applications/{first['number']}/record")).status_code == 200
    assert (await api.get("other_county", f"/applications/{first['number']}")).status_code == 404
    task = (await api.get("town_a", "/tasks")).json()["items"][0]
    assert task["case_number"].startswith(f"DB-340621-{year}-")
    found = (await api.get("county", "/applications", q=first["number"].lower())).json()["items"]
    assert [c["id"] for c in found] == [first["id"]]
