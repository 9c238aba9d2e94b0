"""High-school state grant (国家助学金, seed 000 plan 5) and schools' monthly reports (seed 002)."""

import pytest

from tests.helpers import Api, id_number

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

SCHOOLS = [
    {"code": "S340621-1", "name": "濉溪中学", "parent_code": "340621", "level": "school"},
    {"code": "S340621-1-301", "name": "高一（3）班", "parent_code": "S340621-1", "level": "class"},
    {"code": "S340621101-2", "name": "临涣中学", "parent_code": "340621101", "level": "school"},
]
STAFF = {
    "teacher": ("class_head_teacher", "S340621-1-301"),
    "aid_office": ("school_aid_office", "S340621-1"),
    "aid_centre": ("county_aid_centre", "340621"),
}
APPROVE = {"decision": "approve", "opinion": "同意"}


@pytest.fixture
async def school(api: Api) -> Api:
    assert (await api.put("admin", "/admin/divisions", SCHOOLS)).status_code == 200
    await api.add_people(STAFF)
    # The province sets the yearly amounts by grade (within the national 1,000–3,000).
    r = await api.put(
        "admin",
        "/programs/zhuxuejin/settings?division_code=34",
        {"values": {"annual_amount_especially_difficult": 2500, "annual_amount_difficult": 1500}},
    )
    assert r.status_code == 200, r.text
    return api


async def _apply(api: Api, expect: int = 201) -> dict:
    r = await api.post(
        "portal",
        "/applications",
        {
            "program": "zhuxuejin",
            "division_code": "S340621-1-301",
            "applicant": {"name": "孙同学", "id_number": id_number()},
            "data": {
                "grade_level": "senior_1",
                "family_situation": "父亲残疾，母亲务农",
                "category": "disabled",
                "bank_card": "6217000000000000456",
            },
        },
    )
    assert r.status_code == expect, r.text
    return r.json()


async def _granted(api: Api, grade: str) -> dict:
    case = await _apply(api)
    await api.step(
        "teacher",
        case["id"],
        "class_appraisal",
        {"held_on": await api.today(), "participants": 48, "proposed_grade": grade},
    )
    await api.step("teacher", case["id"], "head_teacher_review", APPROVE)
    review = await api.open_task(case["id"], "school_review")
    assert review["division_code"] == "S340621-1"
    await api.complete("aid_office", review["id"], {**APPROVE, "need_grade": grade})
    await api.advance(days=8)
    assert await api.run_timers() == 1
    confirm = await api.open_task(case["id"], "county_confirm")
    assert confirm["role"] == "county_aid_centre" and confirm["division_code"] == "340621"
    done = await api.complete("aid_centre", confirm["id"], APPROVE)
    assert done["application"]["status"] == "approved"
    return case


async def test_outside_march_and_september_the_application_is_refused(school: Api):
    await school.set_clock("2026-11-23T09:00:00+08:00")
    problem = await _apply(school, expect=422)
    assert problem["rule"] == "application_window" and "3月" in problem["message"]


async def test_class_appraisal_head_teacher_school_notice_county_and_the_term_amount_by_grade(school: Api):
    await school.set_clock("2027-03-01T09:00:00+08:00")
    top = await _granted(school, "especially_difficult")
    second = await _granted(school, "difficult")
    for case, amount, grade in ((top, 1250, "especially_difficult"), (second, 750, "difficult")):
        [paid] = (await school.get("aid_centre", f"/applications/{case['id']}/benefits")).json()
        assert (paid["amount"], paid["category"]) == (amount, grade)  # half of the yearly amount per term


async def test_not_difficult_in_the_class_appraisal_is_refused(school: Api):
    await school.set_clock("2027-09-06T09:00:00+08:00")
    case = await _apply(school)
    done = await school.step(
        "teacher",
        case["id"],
        "class_appraisal",
        {"held_on": await school.today(), "participants": 50, "proposed_grade": "not_difficult"},
    )
    assert [t["name"] for t in done["next_tasks"]] == ["deliver_refusal_notice"]


async def _reports(api: Api, school_code: str) -> dict:
    r = await api.get("admin", "/applications", program="zizhu_report")
    [case] = [
        a for a in r.json()["items"] if a["division_code"] == school_code and a["status"] == "in_progress"
    ]
    return {t["name"]: t for t in (await api.application(case["id"]))["open_tasks"]}


async def test_every_school_gets_its_monthly_reports_due_the_20th_and_28th(school: Api):
    await school.set_clock("2026-12-01T09:00:00+08:00")
    r = await school.post("admin", "/admin/timers/run")
    assert r.json()["monthly_cases_started"] == 2  # both schools
    assert (await school.post("admin", "/admin/timers/run")).json()["monthly_cases_started"] == 0
    tasks = await _reports(school, "S340621-1")
    # 20 December 2026 is a Sunday: the report is due at the end of Monday the 21st.
    assert tasks["monthly_change_report"]["due_at"] == "2026-12-21T15:59:59Z"
    assert tasks["monthly_summary"]["due_at"] == "2026-12-28T15:59:59Z"
    assert tasks["monthly_change_report"]["role"] == "school_aid_office"
    await school.complete(
        "aid_office",
        tasks["monthly_change_report"]["id"],
        {"new_students": 3, "stopped_students": 1, "changed_students": 0},
    )
    done = await school.complete(
        "aid_office", tasks["monthly_summary"]["id"], {"students_aided": 212, "amount_paid": 0}
    )
    assert done["application"]["status"] == "approved"

    # February 2027 with its published calendar: Saturday the 20th is a working day (调休).
    await school.load_year(
        2027, holidays=[f"2027-02-{d:02d}" for d in range(6, 13)], working_days=["2027-02-20"]
    )
    await school.set_clock("2027-02-01T09:00:00+08:00")
    assert (await school.post("admin", "/admin/timers/run")).json()["monthly_cases_started"] == 2
    tasks = await _reports(school, "S340621-1")
    assert tasks["monthly_change_report"]["due_at"] == "2027-02-20T15:59:59Z"
    assert tasks["monthly_summary"]["due_at"] == "2027-03-01T15:59:59Z"  # the 28th is a Sunday
    # A place's own case has no applicant; well formed, it is still not the portal's to start.
    r = await school.post(
        "portal",
        "/applications",
        {
            "program": "zizhu_report",
            "division_code": "S340621-1",
            "applicant": {"name": "x", "id_number": id_number()},
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "place_case", r.text
    r = await school.post(
        "portal", "/applications", {"program": "zizhu_report", "division_code": "S340621-1"}
    )
    assert r.status_code == 403 and r.json()["code"] == "not_a_starter", r.text
