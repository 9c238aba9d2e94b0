"""Former community and substitute teachers' living subsidy (原民办代课教师生活困难补助, seed 003 plan 24)."""

from pathlib import Path

import pytest

from app import engine
from app.domain.programs import definitions
from tests.helpers import Api, check_character

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

PROCESSES = Path(__file__).parent.parent / "processes"
OFFICES = {
    "edu_town": ("township_education", "340621100"),
    "edu": ("county_education", "340621"),
    "finance": ("county_finance", "340621"),
    "hr": ("county_hr", "340621"),
    "health": ("county_health", "340621"),
    "edu_city": ("city_education", "3406"),
}
APPROVE = {"decision": "approve", "opinion": "符合条件"}


def teacher_id(born: str, male: bool, serial: int = 1) -> str:
    """An ID number for a person born on ``born`` (YYYYMMDD): the 17th digit is odd for men."""
    first17 = f"340621{born}{serial % 100:02d}{1 if male else 2}"
    return first17 + check_character(first17)


@pytest.fixture
async def edu(api: Api) -> Api:
    await api.add_people(OFFICES)
    await api.set_clock("2026-11-23T09:00:00+08:00")
    return api


def _data(**changes) -> dict:
    return {
        "teacher_kind": "minban",
        "terms_taught": 41,
        "schools": ["临涣镇中心小学"],
        "retired_under_plan": False,
        "died_before_cutoff": False,
        "criminal_record": False,
        "dismissed": False,
        "bank_account": "6228480000000000",
        **changes,
    }


async def _apply(api: Api, born: str = "19600101", male: bool = True, expect: int = 201, **data) -> dict:
    r = await api.post(
        "portal",
        "/applications",
        {
            "program": "minban",
            "division_code": "340621100201",
            "data": _data(**data),
            "applicant": {"name": "周老师", "id_number": teacher_id(born, male)},
        },
    )
    assert r.status_code == expect, r.text
    return r.json()


async def _joint_review(api: Api, case_id: str, refusing: str | None = None) -> None:
    await api.step("edu_town", case_id, "township_initial_review", APPROVE)
    tasks = {t["name"]: t for t in (await api.application(case_id))["open_tasks"]}
    assert sorted(tasks) == ["education_review", "finance_review", "health_review", "hr_review"]
    for key, who in (("education", "edu"), ("finance", "finance"), ("hr", "hr"), ("health", "health")):
        assert tasks[f"{key}_review"]["division_code"] == "340621"
        answer = {f"{key}_decision": "approve"}
        if key == refusing:
            answer = {f"{key}_decision": "refuse", f"{key}_reason": "任教年限与档案记载不符"}
        await api.complete(who, tasks[f"{key}_review"]["id"], answer)


async def test_eligible_at_60_for_men_and_55_for_women_with_exclusions_named(edu: Api):
    """Plan 24 七(一): "通知当年男年满60周岁、女年满55周岁的原民办代课教师完成个人申请"
    (年龄计算截止时间为12月31日): the age is reached by 31 December of the year of application."""
    await _apply(edu, born="19661231", male=True)  # 60 on the last day of this year
    refused = await _apply(edu, born="19670101", male=True, expect=422)
    assert (
        refused["code"] == "not_eligible" and refused["rule"] == "age" and "男年满60周岁" in refused["detail"]
    )
    await _apply(edu, born="19711231", male=False)  # 55 on the last day of this year
    assert (await _apply(edu, born="19720101", male=False, expect=422))["rule"] == "age"
    for field, rule in (
        ("retired_under_plan", "not_retired_under_plan"),
        ("died_before_cutoff", "alive_at_cutoff"),
        ("criminal_record", "no_criminal_record"),
        ("dismissed", "not_dismissed"),
    ):
        problem = await _apply(edu, born="19500101", expect=422, **{field: True})
        assert problem["rule"] == rule, problem
    assert (await _apply(edu, born="19500101", expect=422, terms_taught=1))["rule"] == "taught_one_year"
    assert await edu.count("applications") == 2


async def test_four_departments_agree_then_notice_county_city_and_provincial_filing(edu: Api):
    case = await _apply(edu)
    first = await edu.open_task(case["id"], "township_initial_review")
    assert first["due_at"] == "2026-11-30T15:59:59Z"  # 5 working days
    await _joint_review(edu, case["id"])
    [notice] = await edu.events(case["id"], "notice.opened")
    assert notice["data"]["ends_at"].startswith("2026-11-30T15:59:59")  # 5 working days of notice
    await edu.advance(days=8)
    assert await edu.run_timers() == 1
    await edu.step("edu", case["id"], "county_confirm", APPROVE)
    recheck = await edu.open_task(case["id"], "city_recheck")
    assert recheck["role"] == "city_education" and recheck["division_code"] == "3406"
    done = await edu.complete("edu_city", recheck["id"], APPROVE)
    assert done["application"]["status"] == "approved"
    [filed] = await edu.events(case["id"], "case.notified")
    assert filed["data"] == {"level": "province", "division_code": "34", "purpose": "备案"}
    [paid] = (await edu.get("edu", f"/applications/{case['id']}/benefits")).json()
    assert (
        paid["kind"] == "monthly" and paid["amount"] == 800 and paid["starts_on"] == "2027-01-01"
    )  # approved 1 Dec; 41 terms: 21 years


async def test_one_department_refusing_refuses_with_its_reason(edu: Api):
    case = await _apply(edu)
    await _joint_review(edu, case["id"], refusing="finance")
    notice = await edu.open_task(case["id"], "deliver_refusal_notice")
    assert notice["role"] == "township_education"
    refusal = [e for e in await edu.events(case["id"], "task.completed") if e["task"] == "finance_review"]
    assert (
        refusal[0]["actor"] == "finance" and refusal[0]["data"]["finance_reason"] == "任教年限与档案记载不符"
    )
    done = await edu.complete(
        "edu_town", notice["id"], {"delivered_on": await edu.today(), "method": "in_person"}
    )
    assert done["application"]["status"] == "refused"


def test_amount_tiers_at_the_boundaries():
    """Plan 24 (seed 003) reads "工作年限超过30年的，每人每月补助900元；工作年限20-29年的，…800元": with
    whole years (每2个学期视为1年), exactly 30 is in neither tier (超过 excludes the number, Civil Code
    Art. 1259). Issue 15 item 13 settles it as 三十年以上, so thirty years is 900."""
    xml = (PROCESSES / "minban.bpmn").read_bytes()
    model = engine.parse_bpmn(xml, definitions.load_decisions(xml, PROCESSES / "decisions"))
    city_amount = 450
    for terms, years, amount in (
        (17, 9, city_amount),
        (18, 9, city_amount),
        (19, 10, 700),
        (37, 19, 700),
        (38, 19, 700),
        (39, 20, 800),
        (57, 29, 800),
        (59, 30, 900),
        (60, 30, 900),
        (61, 31, 900),
        (2, 1, city_amount),
        (3, 2, city_amount),
    ):
        case = engine.Case.start(
            model, {"terms_taught": terms, "settings": {"amount_1_to_9_years": city_amount}}
        )
        data = case.data_of(case.outcome().opened[0].engine_task_id)
        assert (data["years_taught"], data["monthly_amount"]) == (years, amount), terms


async def test_a_city_sets_the_amount_for_one_to_nine_years(edu: Api):
    r = await edu.put(
        "edu_city", "/programs/minban/settings?division_code=3406", {"values": {"amount_1_to_9_years": 500}}
    )
    assert r.status_code == 200, r.text
    case = await _apply(edu, terms_taught=15)  # 8 years
    assert case["settings"]["amount_1_to_9_years"] == 500
    await _joint_review(edu, case["id"])
    await edu.advance(days=8)
    await edu.run_timers()
    await edu.step("edu", case["id"], "county_confirm", APPROVE)
    await edu.step("edu_city", case["id"], "city_recheck", APPROVE)
    assert [b["amount"] for b in (await edu.get("edu", f"/applications/{case['id']}/benefits")).json()] == [
        500
    ]


async def test_payment_ends_with_the_month_of_death(edu: Api):
    case = await _apply(edu)
    await _joint_review(edu, case["id"])
    await edu.message(
        "person_deceased", case["id"], {"died_on": "2026-11-20"}, expect=409
    )  # not approved yet
    await edu.advance(days=8)
    await edu.run_timers()
    await edu.step("edu", case["id"], "county_confirm", APPROVE)
    await edu.step("edu_city", case["id"], "city_recheck", APPROVE)
    await edu.set_clock("2027-03-20T09:00:00+08:00")
    await edu.message("person_deceased", case["id"], {"died_on": "2027-04-01"}, expect=422)  # in the future
    await edu.message("person_deceased", case["id"], {"died_on": "yesterday"}, expect=422)
    await edu.message("person_deceased", case["id"], {"died_on": "2027-03-15"})
    [paid] = (await edu.get("edu", f"/applications/{case['id']}/benefits")).json()
    assert paid["status"] == "ended" and paid["ends_on"] == "2027-03-31"
    assert (await edu.application(case["id"]))["status"] == "terminated"
    await edu.message("person_deceased", case["id"], {"died_on": "2027-03-15"}, expect=409)


async def test_who_reaches_the_age_this_year_applies_from_january_and_is_paid_after_the_birthday(edu: Api):
    """Plan 24 七(一): "此后于每年3月31日前通知当年男年满60周岁、女年满55周岁的原民办代课教师完成个人申请";
    六(二): "从男年满60周岁、女年满55周岁的下一月起开始发放生活困难补助"."""
    await edu.set_clock("2027-01-05T09:00:00+08:00")
    assert (await _apply(edu, born="19680101", expect=422))["rule"] == "age"  # 59 at the end of 2027
    case = await _apply(edu, born="19670615")  # 59 today, 60 on 15 June 2027
    await _joint_review(edu, case["id"])
    await edu.advance(days=8)
    assert await edu.run_timers() == 1
    await edu.step("edu", case["id"], "county_confirm", APPROVE)
    done = await edu.step("edu_city", case["id"], "city_recheck", APPROVE)
    assert done["application"]["status"] == "approved"
    [paid] = (await edu.get("edu", f"/applications/{case['id']}/benefits")).json()
    assert paid["starts_on"] == "2027-07-01"  # approved in January, paid from the month after the birthday
    # A woman born on 29 February is 55 on 1 March in a common year: paid from April.
    leap = await _apply(edu, born="19720229", male=False)
    await _joint_review(edu, leap["id"])
    await edu.advance(days=8)
    assert await edu.run_timers() == 1
    await edu.step("edu", leap["id"], "county_confirm", APPROVE)
    await edu.step("edu_city", leap["id"], "city_recheck", APPROVE)
    [paid] = (await edu.get("edu", f"/applications/{leap['id']}/benefits")).json()
    assert paid["starts_on"] == "2027-04-01"
