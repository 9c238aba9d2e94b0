"""Trade-union hardship aid (困难职工帮扶, seed 003 plans 3, 7, 19): exclusions, income threshold, two unions."""

import pytest

from tests.helpers import Api, id_number

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

UNITS = [
    {"code": "U3406", "name": "淮北师范大学", "parent_code": "34", "level": "university"},
    {"code": "U3406-07", "name": "数学科学学院", "parent_code": "U3406", "level": "department"},
    {"code": "E340621-3", "name": "濉溪县木业公司", "parent_code": "340621", "level": "department"},
]
UNIONS = {
    "math_union": ("department_union", "U3406-07"),
    "campus_union": ("university_union", "U3406"),
    "wood_union": ("department_union", "E340621-3"),
    "city_union": ("city_union", "3406"),
}
APPROVE = {"decision": "approve", "opinion": "情况属实"}


@pytest.fixture
async def unions(api: Api) -> Api:
    r = await api.put("admin", "/admin/divisions", UNITS)
    assert r.status_code == 200, r.text
    await api.add_people(UNIONS)
    # The city's allowance standard (plan 7: 810 yuan a month); three times it is the income line.
    r = await api.put(
        "city_union",
        "/programs/zhigong/settings?division_code=3406",
        {"values": {"local_allowance_standard": 810}},
    )
    assert r.status_code == 200, r.text
    # The university sits under the province; the province's office sets the value there.
    r = await api.put(
        "admin", "/programs/zhigong/settings?division_code=34", {"values": {"local_allowance_standard": 810}}
    )
    assert r.status_code == 200, r.text
    return api


def _data(**changes) -> dict:
    return {
        "union_member": True,
        "household_size": 3,
        "monthly_household_income": 4500,
        "homes": 1,
        "owns_shop": False,
        "employs_others": False,
        "child_in_high_fee_school": False,
        "child_abroad_self_funded": False,
        "hardship": "配偶患重大疾病，年自付医疗费超过1万元",
        **changes,
    }


async def _apply(api: Api, who: str, unit: str, expect: int = 201, **changes) -> dict:
    r = await api.post(
        who,
        "/applications",
        {
            "program": "zhigong",
            "division_code": unit,
            "data": _data(**changes),
            "applicant": {"name": "吴职工", "id_number": id_number()},
        },
    )
    assert r.status_code == expect, r.text
    return r.json()


async def _through_unit(api: Api, union: str, case_id: str) -> dict:
    await api.step(union, case_id, "department_union_review", APPROVE)
    await api.advance(days=5)
    assert await api.run_timers() == 1
    return await api.open_task(case_id)


async def test_a_university_department_union_applies_for_a_member_and_the_campus_union_pays(unions: Api):
    case = await _apply(unions, "math_union", "U3406-07", applied_by="department_union")
    assert case["open_tasks"][0]["division_code"] == "U3406-07"
    task = await _through_unit(unions, "math_union", case["id"])
    assert len(await unions.events(case["id"], "notice.opened")) == 1  # posted within the unit
    assert task["name"] == "university_union_decide" and task["division_code"] == "U3406"
    done = await unions.complete(
        "campus_union", task["id"], {**APPROVE, "support_kind": "money", "amount": 2000}
    )
    assert done["application"]["status"] == "approved"
    [paid] = (await unions.get("campus_union", f"/applications/{case['id']}/benefits")).json()
    assert (paid["amount"], paid["category"]) == (2000, "money")
    # The university sits under the province: the city union does not see its cases.
    assert (await unions.get("city_union", f"/applications/{case['id']}")).status_code == 404


async def test_an_employer_union_case_goes_to_the_city_union_which_gives_goods(unions: Api):
    case = await _apply(unions, "portal", "E340621-3")
    task = await _through_unit(unions, "wood_union", case["id"])
    assert task["name"] == "city_union_decide" and task["division_code"] == "3406"
    r = await unions.post(
        "city_union",
        f"/tasks/{task['id']}/complete",
        {"data": {**APPROVE, "support_kind": "goods", "amount": 800}},
    )
    assert r.status_code == 422  # goods need a description
    await unions.complete(
        "city_union",
        task["id"],
        {**APPROVE, "support_kind": "goods", "amount": 800, "goods": "米、面、油及慰问品"},
    )
    [given] = (await unions.get("city_union", f"/applications/{case['id']}/benefits")).json()
    assert (given["amount"], given["category"]) == (800, "goods")


async def test_exclusions_and_the_income_line_are_named(unions: Api):
    homes = "拥有2套（含）以上住宅的，不能申报"
    business = "拥有商业店铺或雇佣他人从事经营活动的，不能申报"
    schooling = "子女进入高收费私立学校或自费出国留学的，不能申报"
    cases = [
        ({"homes": 2}, "fewer_than_two_homes", homes),
        ({"owns_shop": True}, "no_shop_or_employees", business),
        ({"employs_others": True}, "no_shop_or_employees", business),
        ({"child_in_high_fee_school": True}, "no_costly_schooling", schooling),
        ({"child_abroad_self_funded": True}, "no_costly_schooling", schooling),
        ({"union_member": False}, "union_member", "限工会会员申报"),
        (
            {"monthly_household_income": 7291},  # 2,430.33 > 3 × 810
            "income_within_threshold",
            "家庭月人均收入超过当地最低生活保障标准的规定倍数",
        ),
    ]
    for changes, rule, message in cases:  # the messages the BPMN declares (rule_message.*)
        problem = await _apply(unions, "wood_union", "E340621-3", expect=422, **changes)
        assert (problem["code"], problem["rule"], problem["message"]) == ("not_eligible", rule, message), (
            problem
        )
    await _apply(
        unions, "wood_union", "E340621-3", monthly_household_income=7290
    )  # exactly 3 × 810 per person
    # Where no standard is set the income condition cannot be judged, and says so.
    r = await unions.put(
        "admin",
        "/admin/divisions",
        [
            {"code": "32", "name": "江苏省", "parent_code": None, "level": "province"},
            {"code": "3203", "name": "徐州市", "parent_code": "32", "level": "city"},
            {"code": "E3203-1", "name": "徐州纺织厂", "parent_code": "3203", "level": "department"},
        ],
    )
    assert r.status_code == 200
    problem = await _apply(unions, "admin", "E3203-1", expect=422)
    assert problem["rule"] == "allowance_standard_set"
    # Only a department may start this program.
    r = await unions.post(
        "portal",
        "/applications",
        {
            "program": "zhigong",
            "division_code": "340621100201",
            "data": _data(),
            "applicant": {"name": "x", "id_number": id_number()},
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "division_level_not_accepted"
    assert await unions.count("applications") == 1
