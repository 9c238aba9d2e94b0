"""After approval (动态管理): periodic re-checks on schedule, amount changes, gradual exit, termination."""

import pytest

from tests.helpers import Api
from tests.test_tekun import _apply as apply_tekun
from tests.test_tekun import _county as tekun_county
from tests.test_tekun import _notice_ends, _through_notice

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

REPORT = {"grounds": ["income_above_standard"], "findings": "子女外出务工，家庭收入明显增加"}


async def _enrolled(api: Api, dibao_class: str = "C", amount: float = 500) -> dict:
    """An approved 低保 case, approved on Monday 2026-11-30."""
    await api.set_clock("2026-11-23T09:00:00+08:00")
    case = await api.apply()
    await api.to_notice(case["id"])
    await api.advance(days=7, seconds=600)
    assert await api.run_timers() == 1
    done = await api.step(
        "county",
        case["id"],
        "county_confirm",
        {"decision": "approve", "monthly_amount": amount, "dibao_class": dibao_class},
    )
    assert done["application"]["status"] == "approved"
    return done["application"]


async def _work(api: Api) -> dict:
    r = await api.post("admin", "/admin/timers/run")
    assert r.status_code == 200, r.text
    return r.json()


async def _ledger(api: Api, case_id: str) -> list[dict]:
    return (await api.get("county", f"/applications/{case_id}/benefits")).json()


async def _recheck_of(api: Api, case_id: str) -> dict:
    r = await api.get("county", "/applications", program="dibao_recheck")
    [recheck] = [a for a in r.json()["items"] if a["subject_id"] == case_id]
    return recheck


async def test_class_c_is_rechecked_every_six_months_by_the_service(api: Api):
    case = await _enrolled(api, "C")
    [enrolment] = await _ledger(api, case["id"])
    assert enrolment["starts_on"] == "2026-12-01" and enrolment["next_recheck_on"] == "2027-05-30"
    await api.set_clock("2027-05-29T09:00:00+08:00")
    assert (await _work(api))["rechecks_started"] == 0
    await api.set_clock("2027-05-30T09:00:00+08:00")
    assert (await _work(api))["rechecks_started"] == 1
    assert (await _work(api))["rechecks_started"] == 0  # once, not every round

    recheck = await _recheck_of(api, case["id"])
    assert recheck["applicant"] == case["applicant"] and recheck["division_code"] == case["division_code"]
    task = await api.open_task(recheck["id"], "recheck_investigation")
    assert task["role"] == "township_civil_affairs" and task["division_code"] == "340621100"
    assert (await _ledger(api, case["id"]))[0]["next_recheck_on"] == "2027-11-30"
    done = await api.complete("town_a", task["id"], {"outcome": "continue", "findings": "家庭情况无变化"})
    assert done["application"]["status"] == "approved"
    assert [e["type"] for e in await api.events(case["id"], "enrolment.continued")] == ["enrolment.continued"]


async def test_class_a_is_rechecked_yearly_and_the_amount_adjusted_from_next_month(api: Api):
    case = await _enrolled(api, "A", 600)
    assert (await _ledger(api, case["id"]))[0]["next_recheck_on"] == "2027-11-30"
    await api.set_clock("2027-11-30T10:00:00+08:00")
    assert (await _work(api))["rechecks_started"] == 1
    recheck = await _recheck_of(api, case["id"])
    await api.step(
        "town_a",
        recheck["id"],
        "recheck_investigation",
        {"outcome": "adjust", "new_amount": 450, "findings": "家庭人均收入有所增加"},
    )
    await api.step("county", recheck["id"], "county_confirm_change", {"decision": "approve"})
    old, new = await _ledger(api, case["id"])
    assert (old["amount"], old["status"], old["ends_on"]) == (600, "ended", "2027-11-30")
    assert (new["amount"], new["status"], new["starts_on"]) == (450, "active", "2027-12-01")
    assert new["category"] == "A" and new["next_recheck_on"] == "2028-11-30"
    assert (await api.application(case["id"]))["status"] == "approved"
    # The reports (docs/reports.md): still one enrolment, its monthly amount now 450.
    r = await api.get(
        "admin", "/reports/summary", place="34", program="dibao", **{"from": "2026-01"}, to="2027-12"
    )
    figures = r.json()
    assert (figures["enrolments_active"], figures["monthly_amount_active"], figures["enrolments_ended"]) == (
        1,
        450,
        0,
    )


async def test_gradual_exit_keeps_paying_then_ends(api: Api):
    case = await _enrolled(api, "C")
    await api.set_clock("2027-05-30T09:00:00+08:00")
    await _work(api)
    recheck = await _recheck_of(api, case["id"])
    assert recheck["settings"]["gradual_exit_months"] == 6
    await api.step(
        "town_a",
        recheck["id"],
        "recheck_investigation",
        {"outcome": "gradual_exit", "monthly_income_per_person": 900, "findings": "就业后收入超过保障标准"},
    )
    await api.step("county", recheck["id"], "county_confirm_change", {"decision": "approve"})
    [enrolment] = await _ledger(api, case["id"])
    assert enrolment["status"] == "active" and enrolment["ends_on"] == "2027-11-30"
    assert enrolment["next_recheck_on"] is None

    await api.set_clock("2027-11-30T20:00:00+08:00")
    assert (await _work(api))["enrolments_ended"] == 0  # still paid through November
    await api.set_clock("2027-12-01T09:00:00+08:00")
    assert (await _work(api))["enrolments_ended"] == 1
    assert (await api.application(case["id"]))["status"] == "terminated"
    assert (await _ledger(api, case["id"]))[0]["status"] == "ended"
    assert [e["data"]["reason"] for e in await api.events(case["id"], "application.terminated")] == [
        "gradual exit ended"
    ]
    # The reports count the enrolment as ended in December 2027 (docs/reports.md).
    for month, active, ended in (("2027-11", 1, 0), ("2027-12", 0, 1)):
        r = await api.get(
            "admin", "/reports/summary", place="34", program="dibao", **{"from": month}, to=month
        )
        assert (r.json()["enrolments_active"], r.json()["enrolments_ended"]) == (active, ended), month


async def test_recheck_leads_to_termination_with_objection_and_a_new_notice(api: Api):
    case = await _enrolled(api, "C")
    await api.set_clock("2027-05-30T09:00:00+08:00")
    await _work(api)
    recheck = await _recheck_of(api, case["id"])
    await api.step(
        "town_a",
        recheck["id"],
        "recheck_investigation",
        {"outcome": "terminate", "findings": "家庭购置商品房两套"},
    )
    # The re-check's decision asks for the termination procedure; the worker starts it by itself.
    r = await api.get("county", "/applications", program="dibao_termination")
    assert r.json()["items"] == []  # not inside the re-check's own change
    assert (await _work(api))["followups_started"] == 1
    r = await api.get("county", "/applications", program="dibao_termination")
    [termination] = r.json()["items"]
    assert termination["subject_id"] == case["id"] and termination["data"]["started_by_case"] == recheck["id"]
    await api.step("town_a", termination["id"], "termination_report", REPORT)
    relayed = await api.message(
        "objection", termination["id"], {"reason": "房屋为亲属所有", "contact": "13700000000"}
    )
    await api.step(
        "town_a2",
        termination["id"],
        "investigate_objection",
        {
            "decision": "terminate",
            "reason": "经核实房屋登记在本人名下",
            "objection_outcomes": [
                {
                    "objection_number": relayed["objection_number"],
                    "outcome": "dismissed",
                    "reply": "经核实房屋登记在本人名下",
                }
            ],
        },
    )
    assert [e["data"]["round"] for e in await api.events(termination["id"], "notice.opened")] == [1, 2]
    await api.advance(days=7, seconds=600)
    assert await api.run_timers() == 1
    assert (await api.application(case["id"]))["status"] == "approved"  # until the county decides
    await api.step(
        "county", termination["id"], "county_decide", {"decision": "terminate", "reason": "家庭财产超过规定"}
    )
    done = await api.step(
        "town_a",
        termination["id"],
        "deliver_termination_notice",
        {"delivered_on": await api.today(), "method": "in_person"},
    )
    assert done["application"]["status"] == "approved"  # the termination was decided
    assert (await api.application(case["id"]))["status"] == "terminated"
    [enrolment] = await _ledger(api, case["id"])
    assert enrolment["status"] == "ended" and enrolment["ends_on"] == "2027-06-30"  # stops from next month
    [terminated] = await api.events(case["id"], "application.terminated")
    # Recorded as the act of the termination case's last step, naming that case.
    assert terminated["actor"] == "town_a", terminated
    assert terminated["data"] == {"reason": f"dibao_termination {termination['id']}"}, terminated


async def test_township_report_and_county_keeps_support(api: Api):
    case = await _enrolled(api, "B")
    r = await api.post("town_a", "/applications", {"program": "dibao_termination", "subject_id": case["id"]})
    assert r.status_code == 201, r.text
    termination = r.json()
    r = await api.post("town_a", "/applications", {"program": "dibao_termination", "subject_id": case["id"]})
    assert r.status_code == 409 and r.json()["code"] in (
        "subject_case_in_progress",
        "active_application_exists",
    )
    await api.step("town_a", termination["id"], "termination_report", REPORT)
    await api.advance(days=7, seconds=600)
    assert await api.run_timers() == 1
    done = await api.step(
        "county", termination["id"], "county_decide", {"decision": "continue", "opinion": "收入不稳定"}
    )
    assert done["application"]["status"] == "refused"
    assert (await api.application(case["id"]))["status"] == "approved"
    assert (await _ledger(api, case["id"]))[0]["status"] == "active"


async def test_tekun_termination(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")
    case = await apply_tekun(api)
    await _through_notice(api, case["id"])
    await _notice_ends(api)
    await tekun_county(api, case["id"])
    r = await api.post("town_a", "/applications", {"program": "tekun_termination", "subject_id": case["id"]})
    assert r.status_code == 201, r.text
    termination = r.json()
    await api.step(
        "town_a",
        termination["id"],
        "termination_report",
        {"grounds": ["deceased"], "findings": "本人于2026年12月1日死亡"},
    )
    await api.advance(days=7, seconds=600)
    await api.run_timers()
    await api.step(
        "county", termination["id"], "county_decide", {"decision": "terminate", "reason": "本人死亡"}
    )
    await api.step(
        "town_a",
        termination["id"],
        "deliver_termination_notice",
        {"delivered_on": await api.today(), "method": "post"},
    )
    assert (await api.application(case["id"]))["status"] == "terminated"
    assert (await _ledger(api, case["id"]))[0]["ends_on"] == "2026-12-31"


async def test_bad_termination_requests(api: Api):
    pending = await api.apply()
    r = await api.post(
        "town_a", "/applications", {"program": "dibao_termination", "subject_id": pending["id"]}
    )
    assert r.status_code == 409 and r.json()["code"] == "subject_not_enrolled"
    r = await api.post("town_a", "/applications", {"program": "dibao_termination"})
    assert r.status_code == 422 and r.json()["code"] == "subject_required"
    r = await api.post(
        "town_b", "/applications", {"program": "dibao_termination", "subject_id": pending["id"]}
    )
    assert r.status_code == 404  # another township's case does not exist for it
    r = await api.post("portal", "/applications", {"program": "dibao", "subject_id": pending["id"]})
    assert r.status_code == 422 and r.json()["code"] == "subject_not_allowed"
    assert await api.count("applications") == 1
