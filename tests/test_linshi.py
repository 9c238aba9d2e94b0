"""Temporary relief (临时救助): delegated limits, the family's yearly cap, case conferences, act first."""

import pytest

from tests.helpers import PASSWORD, Api, id_number

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

FAMILY = "340621100201-户-0007"
APPROVE = {"decision": "approve", "opinion": "同意"}


async def _apply(api: Api, relief_type: str = "expenditure", family_id: str = FAMILY, **fields) -> dict:
    return await api.apply(
        program="linshi",
        family_id=family_id,
        data={"relief_type": relief_type, "hardship": "家庭成员突发重病，医疗支出较大"},
        applicant={"name": "李四", "id_number": id_number()},
        **fields,
    )


async def _to_decision(api: Api, case_id: str, amount: float) -> dict:
    """Acceptance, township review with an amount, 7 days of notice: the deciding step opens."""
    await api.step("town_a", case_id, "accept_application", {"decision": "accept"})
    await api.step("town_a", case_id, "township_review", {"decision": "approve", "amount": amount})
    await api.advance(days=7, seconds=600)
    assert await api.run_timers() >= 1
    return await api.open_task(case_id)


async def _ledger(api: Api, case_id: str) -> list[dict]:
    return (await api.get("county", f"/applications/{case_id}/benefits")).json()


async def test_township_approves_within_its_delegated_limit(api: Api):
    case = await _apply(api)
    assert case["settings"]["township_limit"] == 5000 and case["family_id"] == FAMILY
    task = await _to_decision(api, case["id"], 3000)
    assert task["name"] == "township_approve" and task["role"] == "township_civil_affairs"
    done = await api.complete("town_a2", task["id"], APPROVE)
    assert done["application"]["status"] == "approved"
    [paid] = await _ledger(api, case["id"])
    assert paid["kind"] == "one_time" and paid["amount"] == 3000 and paid["cap_exempt"] is False


async def test_county_decides_above_the_limit_and_a_county_may_raise_it(api: Api):
    case = await _apply(api)
    task = await _to_decision(api, case["id"], 8000)
    assert task["name"] == "county_decide" and task["division_code"] == "340621"
    assert (await api.complete("county", task["id"], APPROVE))["application"]["status"] == "approved"

    r = await api.put(
        "county", "/programs/linshi/settings?division_code=340621", {"values": {"township_limit": 10000}}
    )
    assert r.status_code == 200, r.text
    r = await api.get("town_b", "/programs/linshi/settings", division_code="340621101")
    assert r.json()["settings"]["township_limit"] == {
        "value": 10000,
        "source": "340621",
        "range": [0, 100000],
        "authority": {"level": "county", "direction": "ceiling"},
        "own": None,
    }
    assert r.json()["settings"]["family_year_cap"]["source"] == "bpmn"
    # A township cannot set its county's values; a county cannot set another county's.
    r = await api.put(
        "town_a", "/programs/linshi/settings?division_code=340621", {"values": {"township_limit": 1}}
    )
    assert r.status_code == 403 and r.json()["code"] == "not_allowed"
    for bad in (
        {"township_limit": -1},
        {"township_limit": 10**9},
        {"no_such": 1},
        {"township_limit": "5000"},
    ):
        r = await api.put("county", "/programs/linshi/settings?division_code=340621", {"values": bad})
        assert r.status_code == 422, (bad, r.text)

    second = await _apply(api, family_id="340621100201-户-0099")
    assert second["settings"]["township_limit"] == 10000  # the value in force is frozen on the case
    assert (await _to_decision(api, second["id"], 8000))["name"] == "township_approve"


async def test_a_case_above_the_family_cap_goes_to_a_case_conference(api: Api):
    first = await _apply(api)
    task = await _to_decision(api, first["id"], 15000)
    await api.complete("county", task["id"], APPROVE)

    second = await _apply(api)  # another member of the same household, the same year
    task = await _to_decision(api, second["id"], 8000)
    assert task["name"] == "county_case_conference"  # 15,000 + 8,000 > 20,000: one case, one decision
    done = await api.complete(
        "county",
        task["id"],
        {
            "decision": "approve",
            "approved_amount": 8000,
            "minutes": "因病致贫，同意超额救助",
            "participants": ["县民政局", "县财政局", "县卫健委"],
        },
    )
    assert done["application"]["status"] == "approved"
    [paid] = await _ledger(api, second["id"])
    assert paid["amount"] == 8000 and paid["cap_exempt"] is True


async def test_the_cap_is_checked_again_when_approving(api: Api):
    """Two cases passed the routing together; the second approval would break the cap and is refused."""
    first, second = await _apply(api), await _apply(api)
    task_1 = await _to_decision(api, first["id"], 12000)
    task_2 = await _to_decision(api, second["id"], 12000)
    assert task_1["name"] == task_2["name"] == "county_decide"
    await api.complete("county", task_1["id"], APPROVE)
    r = await api.post("county", f"/tasks/{task_2['id']}/complete", {"data": APPROVE})
    assert r.status_code == 409 and r.json()["code"] == "benefit_cap_exceeded", r.text
    problem = r.json()
    assert problem["rule"] == "family_year_cap" and problem["cap"] == 20000
    assert [e["application_id"] for e in problem["earlier"]] == [first["id"]]
    assert (await api.open_task(second["id"]))["id"] == task_2["id"]  # nothing changed
    assert await api.count("benefits") == 1


async def test_emergency_relief_is_paid_first_and_the_formalities_follow(api: Api):
    unconfigured = await _apply(api, relief_type="emergency")
    task = await api.open_task(unconfigured["id"], "emergency_payment")
    await _cash_signed(api, task["id"])
    payment = {
        "amount": 3000,
        "paid_on": await api.today(),
        "method": "cash",
        "hardship": "火灾致房屋损毁",
        "receiver_name": "李四",
        "staff_names": ["王芳", "赵强"],
        "signed_on": await api.today(),
    }
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": payment})
    assert r.status_code == 422 and r.json()["code"] == "limit_not_configured"

    r = await api.put(
        "county", "/programs/linshi/settings?division_code=340621", {"values": {"monthly_standard": 800}}
    )
    assert r.status_code == 200, r.text
    case = await _apply(api, relief_type="emergency", family_id="340621100201-户-0031")
    task = await api.open_task(case["id"], "emergency_payment")
    assert task["due_at"] is not None  # act at once: one working day
    await _cash_signed(api, task["id"])
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {**payment, "amount": 3201}})
    assert r.status_code == 422 and r.json()["code"] == "amount_above_limit" and r.json()["limit"] == 3200
    await api.complete("town_a", task["id"], payment)
    # Paid before any check, appraisal or notice: the ledger has it while the paperwork is still open.
    assert [b["amount"] for b in await _ledger(api, case["id"])] == [3000]
    assert await api.count("notice_entries", f"application_id = '{case['id']}'") == 0
    await api.step("town_a", case["id"], "complete_formalities", {"materials": ["申请书", "火灾证明"]})
    done = await api.step("county", case["id"], "county_confirm_emergency", APPROVE)
    assert done["application"]["status"] == "approved"
    assert [b["amount"] for b in await _ledger(api, case["id"])] == [3000]


async def test_bad_inputs_are_refused(api: Api):
    r = await api.post(
        "portal",
        "/applications",
        {
            "program": "linshi",
            "division_code": "340621100201",
            "applicant": {"name": "王五", "id_number": id_number()},
            "data": {"hardship": "x"},
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "data_invalid"
    case = await _apply(api)
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    task = await api.open_task(case["id"], "township_review")
    for amount in (-100, 0, "五千", 10**7):
        r = await api.post(
            "town_a", f"/tasks/{task['id']}/complete", {"data": {"decision": "approve", "amount": amount}}
        )
        assert r.status_code == 422 and r.json()["code"] == "form_invalid", r.text
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
    assert r.status_code == 422
    assert await api.count("benefits") == 0 and await api.count("applications") == 1


async def _cash_signed(api: Api, task_id: str) -> None:
    """The receiver and two staff sign the cash handed over, on the screen (app/domain/materials)."""
    for key, signer in (("receiver", "李四"), ("staff_1", "王芳"), ("staff_2", "赵强")):
        await api.sign("town_a", task_id, f"signature.{key}", signer)


async def _emergency_task(api: Api, family_id: str) -> dict:
    r = await api.put(
        "county", "/programs/linshi/settings?division_code=340621", {"values": {"monthly_standard": 800}}
    )
    assert r.status_code == 200, r.text
    case = await _apply(api, relief_type="emergency", family_id=family_id)
    return await api.open_task(case["id"], "emergency_payment")


async def test_cash_is_signed_by_the_receiver_and_two_staff_members(api: Api):
    """Plan 5 二(二)1: "也可以直接发放现金，但应由受领人及2名经办人员签字确认"."""
    task = await _emergency_task(api, "340621100201-户-0041")
    today, tomorrow = await api.today(), await api.today(days=1)
    cash = {"amount": 2000, "paid_on": today, "method": "cash", "hardship": "车祸致主要劳动力受伤"}
    signed = {"receiver_name": "李四", "staff_names": ["王芳", "赵强"], "signed_on": today}
    for bad in (
        {},
        {**signed, "receiver_name": ""},
        {**signed, "receiver_name": " 李四"},
        {k: v for k, v in signed.items() if k != "signed_on"},
        {**signed, "staff_names": ["王芳"]},
        {**signed, "staff_names": ["王芳", "王芳"]},
        {**signed, "staff_names": ["王芳", "王芳 "]},
        {**signed, "staff_names": ["王芳", "赵强", "孙丽"]},
        {**signed, "signed_on": tomorrow},
        {**signed, "receiver_name": "王芳"},
    ):
        r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {**cash, **bad}})
        assert r.status_code == 422 and r.json()["code"] == "form_invalid", (bad, r.text)
    assert await api.count("benefits") == 0
    # The names on the form are not the signatures: the step waits for the three to sign.
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {**cash, **signed}})
    assert (r.status_code, r.json()["code"]) == (409, "signature_missing"), r.text
    assert r.json()["missing"] == ["signature.receiver", "signature.staff_1", "signature.staff_2"]
    await _cash_signed(api, task["id"])
    await api.complete("town_a", task["id"], {**cash, **signed})
    [paid] = await _ledger(api, task["application_id"])
    assert paid["amount"] == 2000
    # Paid to an account, nobody signs for cash.
    other = await _emergency_task(api, "340621100201-户-0042")
    await api.complete("town_a", other["id"], {**cash, "method": "bank"})


async def test_emergency_relief_is_at_least_twice_the_monthly_standard(api: Api):
    """Plan 5 二(三)1: "急难型救助对象：救助标准不低于当地低保月保障标准的2倍" — 不低于 includes the
    number (Civil Code Art. 1259): with a standard of 800, 1,600 is paid, 1,599.99 refused."""
    task = await _emergency_task(api, "340621100201-户-0043")
    assert (await api.application(task["application_id"]))["settings"]["emergency_floor_multiple"] == 2
    payment = {"paid_on": await api.today(), "method": "in_kind", "hardship": "火灾致房屋损毁"}
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {**payment, "amount": 1599.99}})
    assert r.status_code == 422 and r.json()["code"] == "amount_below_floor" and r.json()["floor"] == 1600, (
        r.text
    )
    assert await api.count("benefits") == 0
    await api.complete("town_a", task["id"], {**payment, "amount": 1600})
    # A county may raise the floor (有条件的地区可适当提高); a township sets nothing here.
    r = await api.put(
        "county",
        "/programs/linshi/settings?division_code=340621",
        {"values": {"monthly_standard": 800, "emergency_floor_multiple": 3}},
    )
    assert r.status_code == 200, r.text
    r = await api.put(
        "town_a",
        "/programs/linshi/settings?division_code=340621100",
        {"values": {"emergency_floor_multiple": 2}},
    )
    assert r.status_code == 403 and r.json()["code"] == "setting_level_not_allowed", r.text
    case = await _apply(api, relief_type="emergency", family_id="340621100201-户-0044")
    task = await api.open_task(case["id"], "emergency_payment")
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {**payment, "amount": 2399}})
    assert r.status_code == 422 and r.json().get("floor") == 2400, r.text


async def test_a_county_refusal_only_for_the_family_cap_goes_to_the_case_conference(api: Api):
    """Plan 31 / 一事一议: a case refused only because the family's yearly total would pass the cap is
    put to the county case conference instead of ending."""
    first, second, third = await _apply(api), await _apply(api), await _apply(api)
    task_1 = await _to_decision(api, first["id"], 12000)
    task_2 = await _to_decision(api, second["id"], 12000)
    task_3 = await _to_decision(api, third["id"], 6000)
    await api.complete("county", task_1["id"], APPROVE)
    r = await api.post("county", f"/tasks/{task_2['id']}/complete", {"data": APPROVE})
    assert r.status_code == 409 and r.json()["code"] == "benefit_cap_exceeded", r.text
    # "Only the cap" cannot come with an approval.
    r = await api.post(
        "county", f"/tasks/{task_2['id']}/complete", {"data": {"decision": "approve", "cap_only": True}}
    )
    assert r.status_code == 422 and r.json()["code"] == "form_invalid", r.text
    await api.complete(
        "county", task_2["id"], {"decision": "refuse", "reason": "超过家庭年度救助上限", "cap_only": True}
    )
    conference = await api.open_task(second["id"], "county_case_conference")
    # Four eyes: the one who refused does not also decide the conference.
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": "county_b",
            "password": PASSWORD,
            "display_name": "county_b",
            "grants": [{"role": "county_civil_affairs", "division_code": "340621"}],
        },
    )
    assert r.status_code == 201, r.text
    await api.login("county_b")
    done = await api.complete(
        "county_b",
        conference["id"],
        {
            "decision": "approve",
            "approved_amount": 12000,
            "minutes": "重病支出大，同意超额救助",
            "participants": ["县民政局", "县财政局", "县卫健委"],
        },
    )
    assert done["application"]["status"] == "approved"
    [paid] = await _ledger(api, second["id"])
    assert paid["amount"] == 12000 and paid["cap_exempt"] is True
    # Any other refusal still ends the case with a refusal notice.
    r = await api.post(
        "county",
        f"/tasks/{task_3['id']}/complete",
        {"data": {"decision": "refuse", "reason": "家庭财产超标"}},
    )
    assert r.status_code == 422 and r.json()["code"] == "form_invalid", r.text  # the county says which it is
    await api.complete(
        "county", task_3["id"], {"decision": "refuse", "reason": "家庭财产超标", "cap_only": False}
    )
    assert (await api.open_task(third["id"]))["name"] == "deliver_refusal_notice"
