"""Preschool aid (学前教育资助, seed 000 plan 7): window, review panel, notice, terms paid, leaving."""

import pytest

from tests.helpers import Api, id_number

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

KINDERGARTEN = {
    "code": "K340621100-1",
    "name": "濉溪镇中心幼儿园",
    "parent_code": "340621100",
    "level": "kindergarten",
}
STAFF = {
    "head": ("kindergarten_head", "K340621100-1"),
    "panel_clerk": ("kindergarten_panel", "K340621100-1"),
    "edu": ("county_education", "340621"),
}
PANEL = [
    {"name": "刘园长", "role": "head"},
    {"name": "陈老师", "role": "staff"},
    {"name": "林老师", "role": "staff"},
    {"name": "黄家长", "role": "parent"},
    {"name": "郑家长", "role": "parent"},
    {"name": "何家长", "role": "parent"},
]


async def _head_signs(api, case_id: str) -> None:
    """The kindergarten head signs the decision (签字), then approves it."""
    task = await api.open_task(case_id, "head_sign")
    await api.sign("head", task["id"], "signature.head", "园长")
    await api.complete("head", task["id"], APPROVE)


APPROVE = {"decision": "approve", "opinion": "同意"}


@pytest.fixture
async def kg(api: Api) -> Api:
    assert (await api.put("admin", "/admin/divisions", [KINDERGARTEN])).status_code == 200
    await api.add_people(STAFF)
    return api


def _votes(agree: int, disagree: int = 0) -> list[dict]:
    return [{"member": m["name"], "vote": "agree"} for m in PANEL[:agree]] + [
        {"member": m["name"], "vote": "disagree"} for m in PANEL[agree : agree + disagree]
    ]


async def _apply(api: Api, child: str | None = None, expect: int = 201) -> dict:
    r = await api.post(
        "portal",
        "/applications",
        {
            "program": "xueqian",
            "division_code": KINDERGARTEN["code"],
            "applicant": {"name": "王小明", "id_number": child or id_number()},
            "data": {
                "guardian": {"name": "王大明", "relation": "父亲"},
                "bank_card": "6217000000000000123",
                "category": "dibao",
                "hukou": "濉溪县濉溪镇",
            },
        },
    )
    assert r.status_code == expect, r.text
    return r.json()


async def _approve(api: Api, case_id: str) -> None:
    await api.step(
        "panel_clerk", case_id, "panel_review", {"votes": _votes(5, 1), "held_on": await api.today()}
    )
    await api.advance(days=10)
    assert await api.run_timers() == 1
    await _head_signs(api, case_id)
    await api.step("edu", case_id, "county_approve", APPROVE)


async def _payments(api: Api, case_id: str) -> list[tuple]:
    rows = (await api.get("edu", f"/applications/{case_id}/benefits")).json()
    return [(b["starts_on"], b["amount"], b["status"]) for b in rows]


async def test_applications_outside_the_window_are_refused_with_the_window(kg: Api):
    await kg.set_clock("2026-11-23T09:00:00+08:00")
    problem = await _apply(kg, expect=422)
    assert problem["rule"] == "application_window" and "9月1日起30日内" in problem["message"]


async def test_the_spring_term_has_its_own_window_for_individual_adjustments(kg: Api):
    """Plan 7 五(一): "资助对象每学年秋季学期评定一次，春季学期根据资助对象变动情况进行个别调整和评定"."""
    await kg.set_clock("2028-03-31T09:00:00+08:00")  # the 31st day from 1 March: outside
    problem = await _apply(kg, expect=422)
    assert (
        problem["rule"] == "application_window" and "春季学期个别调整在3月1日起30日内" in problem["message"]
    )
    await kg.set_clock("2028-03-30T09:00:00+08:00")  # the 30th day: inside
    assert (
        await kg.put("head", f"/panels/{KINDERGARTEN['code']}/2027", {"members": PANEL})
    ).status_code == 200
    case = await _apply(kg)
    await kg.step(
        "panel_clerk", case["id"], "panel_review", {"votes": _votes(5, 1), "held_on": await kg.today()}
    )
    await kg.advance(days=14)  # 7 working days of notice over the Qingming holiday
    assert await kg.run_timers() == 1
    await _head_signs(kg, case["id"])
    done = await kg.step("edu", case["id"], "county_approve", APPROVE)
    assert done["application"]["status"] == "approved"
    # Adjusted in spring: paid for the spring term only (the autumn payment month has passed).
    assert await _payments(kg, case["id"]) == [("2028-07-01", 500, "scheduled")]


async def test_an_autumn_case_approved_after_the_autumn_payment_month_keeps_its_autumn_term(kg: Api):
    await kg.set_clock("2027-09-06T09:00:00+08:00")
    assert (
        await kg.put("head", f"/panels/{KINDERGARTEN['code']}/2027", {"members": PANEL})
    ).status_code == 200
    case = await _apply(kg)
    await kg.step(
        "panel_clerk", case["id"], "panel_review", {"votes": _votes(5, 1), "held_on": await kg.today()}
    )
    await kg.set_clock("2028-02-14T09:00:00+08:00")  # the head and the county were slow
    assert await kg.run_timers() == 1
    await _head_signs(kg, case["id"])
    await kg.step("edu", case["id"], "county_approve", APPROVE)
    assert await _payments(kg, case["id"]) == [
        ("2028-01-01", 500, "scheduled"),
        ("2028-07-01", 500, "scheduled"),
    ]


async def test_panel_majority_notice_head_county_and_a_payment_each_term(kg: Api):
    await kg.set_clock("2027-09-06T09:00:00+08:00")
    assert (
        await kg.put("head", f"/panels/{KINDERGARTEN['code']}/2027", {"members": PANEL})
    ).status_code == 200
    case = await _apply(kg)
    assert case["settings"]["max_terms"] == 6 and case["settings"]["amount_per_year"] == 1000
    task = await kg.open_task(case["id"], "panel_review")
    assert task["division_code"] == KINDERGARTEN["code"] and task["role"] == "kindergarten_panel"
    done = await kg.complete("panel_clerk", task["id"], {"votes": _votes(4, 1), "held_on": await kg.today()})
    assert done["application"]["open_tasks"] == []  # on notice in the kindergarten
    [completed] = await kg.events(case["id"], "task.completed")
    assert (
        completed["data"]["panel_decision"],
        completed["data"]["votes_for"],
        completed["data"]["panel_size"],
    ) == ("approve", 4, 6)
    r = await kg.get("anyone", "/public/notices", division_code=KINDERGARTEN["code"])
    assert r.status_code == 200 and "王小明" not in r.text  # a child's name is never posted
    await kg.advance(days=10)
    assert await kg.run_timers() == 1
    await _head_signs(kg, case["id"])
    done = await kg.step("edu", case["id"], "county_approve", APPROVE)
    assert done["application"]["status"] == "approved"
    [informed] = await kg.events(case["id"], "case.notified")
    assert informed["data"]["level"] == "city" and informed["data"]["division_code"] == "3406"
    # 1,000 yuan a year: half in the last month of each term, to the guardian's card.
    assert await _payments(kg, case["id"]) == [
        ("2028-01-01", 500, "scheduled"),
        ("2028-07-01", 500, "scheduled"),
    ]


async def test_the_panel_is_registered_counted_and_decides_by_majority(kg: Api):
    await kg.set_clock("2027-09-06T09:00:00+08:00")
    for members in (PANEL[:4], [m for m in PANEL if m["role"] != "parent"], [*PANEL, PANEL[0]]):
        r = await kg.put("head", f"/panels/{KINDERGARTEN['code']}/2027", {"members": members})
        assert r.status_code == 422 and r.json()["code"] == "invalid_panel", r.text
    assert (
        await kg.put("edu", f"/panels/{KINDERGARTEN['code']}/2027", {"members": PANEL})
    ).status_code == 403
    case = await _apply(kg)
    task = await kg.open_task(case["id"], "panel_review")
    r = await kg.post(
        "panel_clerk",
        f"/tasks/{task['id']}/complete",
        {"data": {"votes": _votes(5), "held_on": await kg.today()}},
    )
    assert r.status_code == 422 and r.json()["code"] == "panel_not_registered"
    await kg.put("head", f"/panels/{KINDERGARTEN['code']}/2027", {"members": PANEL})
    for votes, code in (
        (_votes(4), "no_quorum"),
        (_votes(3, 0), "no_quorum"),
        ([*_votes(5), {"member": "路人", "vote": "agree"}], "unknown_panel_member"),
        ([*_votes(5), {"member": "陈老师", "vote": "agree"}], "invalid_votes"),
    ):
        r = await kg.post(
            "panel_clerk",
            f"/tasks/{task['id']}/complete",
            {"data": {"votes": votes, "held_on": await kg.today()}},
        )
        assert r.status_code == 422 and r.json()["code"] == code, (votes, r.text)
    done = await kg.complete(
        "panel_clerk",
        task["id"],
        {"votes": _votes(2, 3), "held_on": await kg.today(), "reason": "家庭经济状况不符合条件"},
    )
    assert [t["name"] for t in done["next_tasks"]] == ["deliver_refusal_notice"]


async def test_terms_are_capped_and_leaving_stops_future_payments(kg: Api):
    await kg.set_clock("2027-09-06T09:00:00+08:00")
    r = await kg.put("edu", "/programs/xueqian/settings?division_code=340621", {"values": {"max_terms": 3}})
    assert r.status_code == 200, r.text
    child = id_number()
    await kg.put("head", f"/panels/{KINDERGARTEN['code']}/2027", {"members": PANEL})
    first = await _apply(kg, child)
    await _approve(kg, first["id"])
    assert len(await _payments(kg, first["id"])) == 2

    await kg.set_clock("2028-09-04T09:00:00+08:00")
    await kg.put("head", f"/panels/{KINDERGARTEN['code']}/2028", {"members": PANEL})
    second = await _apply(kg, child)
    await _approve(kg, second["id"])
    assert await _payments(kg, second["id"]) == [("2029-01-01", 500, "scheduled")]  # the third and last term
    await kg.set_clock("2028-12-25T09:00:00+08:00")
    await kg.message("pupil_left", second["id"], {"left_on": "2028-12-20"})  # left before January's payment
    assert await _payments(kg, second["id"]) == [("2029-01-01", 500, "cancelled")]
    assert (await kg.application(second["id"]))["status"] == "terminated"

    await kg.set_clock("2029-09-03T09:00:00+08:00")
    await kg.put("head", f"/panels/{KINDERGARTEN['code']}/2029", {"members": PANEL})
    third = await _apply(kg, child)  # the cancelled term does not count: one is left
    await _approve(kg, third["id"])
    assert await _payments(kg, third["id"]) == [("2030-01-01", 500, "scheduled")]
    problem = await _apply(kg, child, expect=422)
    assert problem["rule"] == "terms_left" and "3个学期" in problem["message"]
