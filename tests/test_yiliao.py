"""Medical relief (医疗救助, seed plan 4): amounts by disease (DMN), second round, yearly cap per person."""

import pytest

from tests.helpers import PASSWORD, Api, id_number

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

PERSON = {"name": "赵六", "id_number": id_number(777)}
VISIT = {"decision": "approve", "visited_on": "2026-11-24", "findings": "住院治疗，家庭生活特别困难"}
PAID = {"paid_on": "2026-11-30", "hospital": "岳西县医院", "voucher": "CZ-2026-0001"}


@pytest.fixture
async def med(api: Api) -> Api:
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": "finance",
            "password": PASSWORD,
            "display_name": "县财政局",
            "grants": [{"role": "county_finance", "division_code": "340621"}],
        },
    )
    assert r.status_code == 201, r.text
    await api.login("finance")
    return api


async def _apply(api: Api, disease: str, own_cost: float = 3000, group: str = "dibao", **fields) -> dict:
    return await api.apply(
        program="yiliao",
        applicant=fields.pop("applicant", PERSON),
        data={
            "group": group,
            "certificate_number": "低保证-0031",
            "disease": disease,
            "diagnosis": "县医院诊断证明",
            "hospital": "岳西县医院",
            "total_cost": own_cost * 2,
            "own_cost_after_insurance": own_cost,
        },
        **fields,
    )


async def _to_county(api: Api, case_id: str) -> dict:
    await api.step("town_a", case_id, "home_visit", {**VISIT, "visited_on": await api.today()})
    await api.advance(days=7, seconds=600)
    assert await api.run_timers() == 1
    return await api.open_task(case_id, "county_decide")


async def _ledger(api: Api, case_id: str) -> list[float]:
    return [b["amount"] for b in (await api.get("county", f"/applications/{case_id}/benefits")).json()]


async def test_listed_disease_is_paid_to_the_hospital_at_the_table_amount(med: Api):
    await med.set_clock("2026-11-23T09:00:00+08:00")
    case = await _apply(med, "aids")
    visit = await med.open_task(case["id"], "home_visit")
    assert visit["due_at"] == "2026-11-30T15:59:59Z"  # 5 working days
    task = await _to_county(med, case["id"])
    assert task["due_at"] == "2026-12-09T15:59:59Z"  # 7 working days from Monday 2026-11-30
    await med.complete("county", task["id"], {"decision": "approve"})
    assert await _ledger(med, case["id"]) == [3000]  # AIDS: 3,000 yuan by the table
    pay = await med.open_task(case["id"], "pay_hospital")
    assert pay["role"] == "county_finance" and pay["due_at"] == "2026-12-03T15:59:59Z"
    done = await med.complete("finance", pay["id"], {**PAID, "paid_on": await med.today()})
    assert done["application"]["status"] == "approved"  # own cost 3,000: no second round


async def test_second_round_above_5000_within_the_yearly_cap_per_person(med: Api):
    case = await _apply(med, "acute_stroke", own_cost=12000)
    task = await _to_county(med, case["id"])
    await med.complete("county", task["id"], {"decision": "approve"})
    await med.step("finance", case["id"], "pay_hospital", {**PAID, "paid_on": await med.today()})
    second = await med.open_task(case["id"], "second_round_review")
    r = await med.post(
        "county",
        f"/tasks/{second['id']}/complete",
        {"data": {"second_decision": "approve", "second_amount": 9500}},
    )
    assert r.status_code == 409 and r.json()["code"] == "benefit_cap_exceeded"
    assert r.json()["rule"] == "person_year_cap" and r.json()["used"] == 1000
    assert [e["application_id"] for e in r.json()["earlier"]] == [case["id"]]
    await med.complete("county", second["id"], {"second_decision": "approve", "second_amount": 9000})
    await med.step(
        "finance",
        case["id"],
        "pay_second_round",
        {**PAID, "paid_on": await med.today(), "voucher": "CZ-2026-0002"},
    )
    assert (await med.application(case["id"]))["status"] == "approved"
    assert await _ledger(med, case["id"]) == [1000, 9000]

    again = await _apply(med, "aids")  # the same person, the same year: 10,000 already
    task = await _to_county(med, again["id"])
    r = await med.post("county", f"/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
    assert r.status_code == 409 and r.json()["code"] == "benefit_cap_exceeded"
    await med.complete("county", task["id"], {"decision": "refuse", "reason": "本年度救助总额已达1万元"})
    assert await _ledger(med, again["id"]) == []


async def test_amounts_the_plan_leaves_open_are_set_by_the_county(med: Api):
    case = await _apply(med, "malignant_tumour")
    task = await _to_county(med, case["id"])
    r = await med.post("county", f"/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
    assert r.status_code == 422 and r.json()["code"] == "invalid_amount"  # no amount set: nothing invented
    await med.complete("county", task["id"], {"decision": "approve", "amount": 5000})
    assert await _ledger(med, case["id"]) == [5000]

    r = await med.put(
        "county",
        "/programs/yiliao/settings?division_code=340621",
        {"values": {"amount_malignant_tumour": 8000}},
    )
    assert r.status_code == 200, r.text
    other = await _apply(med, "malignant_tumour", applicant={"name": "钱七", "id_number": id_number(778)})
    task = await _to_county(med, other["id"])
    await med.complete("county", task["id"], {"decision": "approve"})
    assert await _ledger(med, other["id"]) == [8000]


async def test_tekun_persons_are_covered_whatever_the_disease(med: Api):
    case = await _apply(med, "other", group="tekun")
    task = await _to_county(med, case["id"])
    await med.complete("county", task["id"], {"decision": "approve", "amount": 2000})
    assert await _ledger(med, case["id"]) == [2000]
    refused = await _apply(med, "other", applicant={"name": "孙八", "id_number": id_number(779)})
    notice = await med.open_task(refused["id"], "deliver_refusal_notice")  # not on the list, not 特困
    done = await med.complete("town_a", notice["id"], {"delivered_on": await med.today(), "method": "post"})
    assert done["application"]["status"] == "refused"


async def test_bad_inputs_are_refused(med: Api):
    for data in ({"disease": "flu"}, {"own_cost_after_insurance": -1}, {"group": "anyone"}):
        body = {
            "group": "dibao",
            "certificate_number": "x",
            "disease": "aids",
            "diagnosis": "x",
            "hospital": "x",
            "own_cost_after_insurance": 100,
            **data,
        }
        r = await med.post(
            "portal",
            "/applications",
            {"program": "yiliao", "division_code": "340621100201", "applicant": PERSON, "data": body},
        )
        assert r.status_code == 422 and r.json()["code"] == "data_invalid", r.text
    assert await med.count("applications") == 0


async def test_a_second_round_opens_at_exactly_5000(med: Api):
    """ "原则上个人负担5000元以上的，可实施二次救助": 以上 includes 5,000 (Civil Code Art. 1259)."""
    for own_cost, second in ((5000, True), (4999.99, False)):
        case = await _apply(
            med, "acute_stroke", own_cost=own_cost, applicant={**PERSON, "id_number": id_number()}
        )
        task = await _to_county(med, case["id"])
        await med.complete("county", task["id"], {"decision": "approve"})
        await med.step("finance", case["id"], "pay_hospital", {**PAID, "paid_on": await med.today()})
        opened = [t["name"] for t in (await med.application(case["id"]))["open_tasks"]]
        assert opened == (["second_round_review"] if second else []), (own_cost, opened)
