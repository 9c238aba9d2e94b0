"""Extreme-poverty support (特困人员救助供养), as the national 认定办法 (2021) describes it."""

import random
from fractions import Fraction
from pathlib import Path

import pytest

from tests.helpers import Api, id_number


def _recompute(seed: str, number: int, sampled_before: int, ratio: float) -> tuple[float, bool, bool]:
    """A draw as anyone may recompute it from the recorded seed, written from the rule the service
    publishes (app/domain/money/sampling.py's docstring), not by calling it: the n-th case's value is
    ``Random(f"{seed}:{n}").random()``; it is sampled when the value is below the ratio, and forced
    when leaving it out would put the pool's share below the ratio (exact arithmetic, no float)."""
    value = random.Random(f"{seed}:{number}").random()
    forced = Fraction(sampled_before, number) < Fraction(str(ratio))
    return round(value, 6), forced, forced or value < ratio


# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

TEKUN = (Path(__file__).parent.parent / "processes" / "tekun.bpmn").read_bytes()
REVIEW = {
    "decision": "approve",
    "democratic_appraisal": False,
    "opinion": "无劳动能力、无生活来源、无法定赡养人",
}
CONFIRM = {"decision": "approve", "monthly_amount": 900, "support_mode": "dispersed", "care_level": "partial"}
VISIT = {"visited_on": "2026-11-20", "visitors": ["县民政局 李明", "县民政局 王芳"], "findings": "情况属实"}


async def _apply(api: Api, **fields) -> dict:
    return await api.apply(program="tekun", data={"by_proxy": True, "proxy": "村民委员会"}, **fields)


async def _through_notice(api: Api, case_id: str, review: dict = REVIEW) -> None:
    await api.step("town_a", case_id, "accept_application", {"decision": "accept"})
    await api.step("town_a", case_id, "initial_review", review)


async def _notice_ends(api: Api) -> int:
    await api.advance(days=7, seconds=600)
    return await api.run_timers()


async def _county(api: Api, case_id: str) -> dict:
    """County stage: the sample re-check when drawn, then confirmation."""
    task = await api.open_task(case_id)
    if task["name"] == "county_sample_recheck":
        await api.complete("county", task["id"], {**VISIT, "visited_on": await api.today()})
        task = await api.open_task(case_id, "county_confirm")
    assert task["name"] == "county_confirm" and task["division_code"] == "340621"
    return await api.complete("county", task["id"], CONFIRM)


async def test_appraisal_notice_sample_recheck_and_support_from_next_month(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")
    case = await _apply(api)
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    review = await api.open_task(case["id"], "initial_review")
    assert review["due_at"] == "2026-12-14T15:59:59Z"  # 15 working days
    await api.complete("town_a", review["id"], {**REVIEW, "democratic_appraisal": True})
    # The township may hold a democratic appraisal before the notice.
    await api.step(
        "town_a",
        case["id"],
        "democratic_appraisal",
        {"held_on": await api.today(), "participants": 23, "appraisal_result": "agree"},
    )
    assert await api.count("notice_entries", f"application_id = '{case['id']}' AND status = 'listed'") == 1
    assert await _notice_ends(api) == 1

    # The first case of the county's month is always drawn: the share may never fall below 30 %.
    recheck = await api.open_task(case["id"], "county_sample_recheck")
    assert recheck["role"] == "county_civil_affairs"
    [draw] = [e["data"] for e in await api.events(case["id"], "sample.drawn")]
    assert (
        draw["number"] == 1 and draw["sampled"] and draw["ratio"] == 0.3 and draw["county_code"] == "340621"
    )
    assert (draw["forced"], draw["sampled"]) == (True, True)
    assert _recompute(draw["seed"], 1, 0, 0.3) == (draw["value"], True, True)
    done = await _county(api, case["id"])
    assert done["application"]["status"] == "approved"

    [benefit] = (await api.get("county", f"/applications/{case['id']}/benefits")).json()
    assert benefit["kind"] == "monthly" and benefit["amount"] == 900 and benefit["starts_on"] == "2026-12-01"
    assert benefit["category"] == "dispersed" and benefit["status"] == "active"
    # 特困 and 低保 exclude each other; a second enrolment in either is refused with the case named.
    for program in ("tekun", "dibao"):
        r = await api.post(
            "portal",
            "/applications",
            {"program": program, "division_code": "340621100201", "applicant": case["applicant"]},
        )
        assert r.status_code == 409 and r.json()["code"] == "already_enrolled", r.text
        assert r.json()["existing_id"] == case["id"]


async def test_objection_is_reinvestigated_and_noticed_again(api: Api):
    case = await _apply(api)
    await _through_notice(api, case["id"])
    relayed = await api.message(
        "objection", case["id"], {"reason": "其子女有赡养能力", "contact": "13700000000"}
    )
    reinvestigate = await api.open_task(case["id"], "reinvestigate")
    assert reinvestigate["title"] == "异议重新调查核实"
    await api.complete(
        "town_a2",
        reinvestigate["id"],
        {
            "decision": "approve",
            "opinion": "子女重度残疾，无赡养能力",
            "objection_outcomes": [
                {
                    "objection_number": relayed["objection_number"],
                    "outcome": "dismissed",
                    "reply": "子女重度残疾，无赡养能力",
                }
            ],
        },
    )
    # A new notice (round 2) runs its full 7 days before the county sees the case.
    rounds = await api.events(case["id"], "notice.opened")
    assert [e["data"]["round"] for e in rounds] == [1, 2]
    assert (await api.application(case["id"]))["open_tasks"] == []
    assert await _notice_ends(api) == 1
    assert (await _county(api, case["id"]))["application"]["status"] == "approved"


async def test_refusal_is_delivered_in_writing_within_three_working_days(api: Api):
    await api.set_clock("2026-11-25T09:00:00+08:00")
    case = await _apply(api)
    await _through_notice(
        api,
        case["id"],
        {"decision": "refuse", "democratic_appraisal": False, "reason": "有法定赡养人且具备赡养能力"},
    )
    notice = await api.open_task(case["id"], "deliver_refusal_notice")
    assert notice["due_at"] == "2026-11-30T15:59:59Z"  # Wed → Mon: 3 working days
    done = await api.complete(
        "town_a", notice["id"], {"delivered_on": await api.today(), "method": "in_person"}
    )
    assert done["application"]["status"] == "refused"
    assert (await api.get("county", f"/applications/{case['id']}/benefits")).json() == []


async def test_sample_ratio_never_falls_below_the_setting_over_100_cases(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")
    cases = []
    for serial in range(100):
        case = await _apply(api, applicant={"name": "特困申请人", "id_number": id_number(5000 + serial)})
        await _through_notice(api, case["id"])
        cases.append(case["id"])
    assert await _notice_ends(api) == 100

    draws = []
    for case_id in cases:
        draws += [e["data"] for e in await api.events(case_id, "sample.drawn")]
    draws.sort(key=lambda d: d["number"])
    assert [d["number"] for d in draws] == list(range(1, 101))
    assert len({d["seed"] for d in draws}) == 1  # one pool: this county, this month
    sampled = 0
    for draw in draws:
        # Anyone can recompute each draw from the recorded seed.
        value, forced, chosen = _recompute(draw["seed"], draw["number"], sampled, 0.3)
        assert (value, forced, chosen) == (draw["value"], draw["forced"], draw["sampled"]), draw
        sampled += chosen
        assert sampled / draw["number"] >= 0.3
    assert await api.count("tasks", "name = 'county_sample_recheck' AND state = 'open'") == sampled
    assert await api.count("sample_pools", f"drawn = 100 AND sampled = {sampled}") == 1
    # Not every case is drawn: the sample is random, not the whole month.
    assert sampled < 100


async def test_a_county_may_raise_the_ratio_but_not_lower_it(api: Api):
    r = await api.put(
        "county", "/programs/tekun/settings?division_code=340621", {"values": {"sample_recheck_ratio": 0.2}}
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_setting"
    r = await api.put(
        "county", "/programs/tekun/settings?division_code=340621", {"values": {"sample_recheck_ratio": 1}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["sample_recheck_ratio"] == {
        "value": 1,
        "source": "340621",
        "range": [0.3, 1.0],
        "authority": {"level": "county", "direction": "floor"},
        "own": 1,
    }
    r = await api.put(
        "other_county",
        "/programs/tekun/settings?division_code=340621",
        {"values": {"sample_recheck_ratio": 1}},
    )
    assert r.status_code == 403
    case = await _apply(api)
    assert case["settings"]["sample_recheck_ratio"] == 1  # frozen on the case
    await _through_notice(api, case["id"])
    await _notice_ends(api)
    await api.open_task(case["id"], "county_sample_recheck")


async def test_anhui_pilot_with_ten_plus_ten_working_days(api: Api):
    """Seed plan 9 (Anhui): township and county 10 working days each, piloted for province 34 only."""
    anhui = TEKUN.replace(b'value="15 working days"', b'value="10 working days"')
    r = await api.client.post(
        "/api/v1/process-definitions",
        headers=api.headers["admin"],
        params={"version_tag": "anhui-2021", "comment": "皖民规〔2021〕特困人员认定实施细则"},
        files={"file": ("tekun.bpmn", anhui, "application/xml")},
    )
    assert r.status_code == 201, r.text
    pilot = r.json()["version"]
    r = await api.put(
        "admin",
        "/process-definitions/tekun/rollout",
        {"default_version": 1, "rules": [{"division_code": "34", "version": pilot}]},
    )
    assert r.status_code == 200, r.text
    r = await api.put(
        "admin",
        "/admin/divisions",
        [
            {"code": "32", "name": "江苏省", "parent_code": None, "level": "province"},
            {"code": "3203", "name": "徐州市", "parent_code": "32", "level": "city"},
            {"code": "320321", "name": "丰县", "parent_code": "3203", "level": "county"},
            {"code": "320321100", "name": "凤城街道", "parent_code": "320321", "level": "township"},
        ],
    )
    assert r.status_code == 200, r.text

    await api.set_clock("2026-11-23T09:00:00+08:00")
    anhui_case = await _apply(api)
    jiangsu_case = await _apply(api, who="admin", division_code="320321100")
    assert anhui_case["definition_version"] == pilot and jiangsu_case["definition_version"] == 1
    await api.step("town_a", anhui_case["id"], "accept_application", {"decision": "accept"})
    await api.step("admin", jiangsu_case["id"], "accept_application", {"decision": "accept"})
    assert (await api.open_task(anhui_case["id"], "initial_review"))["due_at"] == "2026-12-07T15:59:59Z"
    assert (await api.open_task(jiangsu_case["id"], "initial_review"))["due_at"] == "2026-12-14T15:59:59Z"


async def test_bad_inputs_are_refused(api: Api):
    case = await _apply(api)
    await _through_notice(api, case["id"])
    await _notice_ends(api)
    task = await api.open_task(case["id"])
    if task["name"] == "county_sample_recheck":
        await api.complete("county", task["id"], {**VISIT, "visited_on": await api.today()})
        task = await api.open_task(case["id"], "county_confirm")
    for amount in (-5, 0, 10**9):
        r = await api.post(
            "county", f"/tasks/{task['id']}/complete", {"data": {**CONFIRM, "monthly_amount": amount}}
        )
        assert r.status_code == 422, r.text
    r = await api.post("county", f"/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
    assert r.status_code == 422 and r.json()["code"] == "form_invalid"
    assert await api.count("benefits") == 0
    assert (await api.application(case["id"]))["status"] == "in_progress"
