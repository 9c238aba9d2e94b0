"""Objections are accepted for the whole notice period, and the case reaches the county only after
the period has ended and every objection has been answered (issue 15, finding 11).

低保 (最低生活保障审核确认办法 Art. 17): "对公示有异议的，乡镇人民政府（街道办事处）应当重新组织调查核实"
— re-investigation, no new notice; 特困 posts a new notice after an objection (tests/test_tekun.py)."""

import pytest

from tests.helpers import Api
from tests.test_notices import APPROVE, _case_on_notice, _public

pytestmark = pytest.mark.dates


async def _object(api: Api, notice_id: str, entry_id: str, reason: str):
    return await api.client.post(
        f"/api/v1/public/notices/{notice_id}/objections", json={"entry_id": entry_id, "reason": reason}
    )


async def _answer(api: Api, case_id: str, number: str) -> None:
    await api.step(
        "town_a2",
        case_id,
        "reinvestigate",
        {
            **APPROVE,
            "objection_outcomes": [
                {"objection_number": number, "outcome": "dismissed", "reply": "经入户核实，反映情况不属实"}
            ],
        },
    )


async def test_objections_on_day_1_and_day_6_of_a_7_day_dibao_notice(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    case, _ = await _case_on_notice(api, "孙七")
    notice = (await _public(api, "/notices")).json()[0]
    entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]

    await api.advance(days=1)
    first = await _object(api, notice["id"], entry["id"], "第一天：反映其有经营性收入")
    assert first.status_code == 202, first.text
    await _answer(api, case["id"], first.json()["number"])
    # Answered, but the period runs on: the case waits, the page still says 公示中, nothing at the county.
    assert (await api.application(case["id"]))["open_tasks"] == []
    assert (await _public(api, f"/notices/{notice['id']}")).json()["state"] == "open"
    assert await api.count("tasks", f"application_id = '{case['id']}' AND name = 'county_confirm'") == 0

    await api.advance(days=5)  # day 6
    second = await _object(api, notice["id"], entry["id"], "第六天：反映其子女有稳定收入")
    assert second.status_code == 202, second.text  # was 409 notice_closed
    assert [t["name"] for t in (await api.application(case["id"]))["open_tasks"]] == ["reinvestigate"]
    await _answer(api, case["id"], second.json()["number"])
    assert await api.run_timers() == 0  # day 6: the period has not ended
    assert (await api.application(case["id"]))["open_tasks"] == []

    await api.advance(days=2)  # past day 7
    late = await _object(api, notice["id"], entry["id"], "期满之后才提出的异议")
    assert late.status_code == 409 and late.json()["code"] == "notice_closed"
    assert await api.run_timers() == 1
    await api.open_task(case["id"], "county_confirm")
    answered = await api.count("objections", f"application_id = '{case['id']}' AND status = 'answered'")
    assert answered == 2 and await api.count("objections") == 2
    # Who answered, as a person and office beside the login (people, not logins).
    listed = (await api.get("county", f"/applications/{case['id']}/objections")).json()
    assert {o["answered_by"] for o in listed} == {"town_a2"}
    assert {o["answered_by_display"]["text"] for o in listed} == {"town_a2（濉溪镇民政）"}, listed


async def test_an_objection_while_re_investigating_is_answered_by_that_step(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")
    case, _ = await _case_on_notice(api, "周八")
    notice = (await _public(api, "/notices")).json()[0]
    entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]
    first = (await _object(api, notice["id"], entry["id"], "反映其家中有车辆")).json()
    second = (await _object(api, notice["id"], entry["id"], "反映其家中另有住房")).json()
    task = await api.open_task(case["id"], "reinvestigate")
    r = await api.complete(
        "town_a2",
        task["id"],
        {
            **APPROVE,
            "objection_outcomes": [
                {"objection_number": first["number"], "outcome": "dismissed", "reply": "车辆已报废"}
            ],
        },
        expect=422,
    )
    assert r["code"] == "objection_outcomes_missing" and r["missing"] == [second["number"]]
    await api.complete(
        "town_a2",
        task["id"],
        {
            **APPROVE,
            "objection_outcomes": [
                {"objection_number": n, "outcome": "dismissed", "reply": "经核实不属实"}
                for n in (first["number"], second["number"])
            ],
        },
    )
    await api.advance(days=8)
    assert await api.run_timers() == 1
    await api.open_task(case["id"], "county_confirm")


async def test_a_case_refused_after_an_objection_takes_no_more(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")
    case, _ = await _case_on_notice(api, "吴九")
    notice = (await _public(api, "/notices")).json()[0]
    entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]
    first = (await _object(api, notice["id"], entry["id"], "反映其有隐瞒收入")).json()
    await api.step(
        "town_a2",
        case["id"],
        "reinvestigate",
        {
            "decision": "refuse",
            "reason": "经核实家庭收入超过标准",
            "objection_outcomes": [
                {"objection_number": first["number"], "outcome": "upheld", "reply": "反映属实"}
            ],
        },
    )
    again = await _object(api, notice["id"], entry["id"], "再次反映同一情况")
    assert again.status_code == 409 and again.json()["code"] == "notice_closed"
