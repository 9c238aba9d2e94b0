"""Inbound events (POST /messages): safe retries, payload schemas, correlation keys, early events."""

from pathlib import Path

import pytest

from tests.helpers import Api, id_number
from tests.receiver import Receiver
from tests.test_minban import (
    APPROVE,
    _apply,
    _joint_review,
    edu,  # noqa: F401  (the fixture with the education offices)
)
from tests.test_webhooks import run, subscribe

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

BPMN = (Path(__file__).parent / "bpmn" / "inbound_demo.bpmn").read_bytes()
PAID = {"amount": 980.5, "paid_on": "2026-11-02", "bank_ref": "ICBC-0001"}


async def send(api: Api, body: dict, expect: int = 202, key: str | None = None, who: str = "portal") -> dict:
    r = await api.post(who, "/messages", body, headers={"Idempotency-Key": key} if key else {})
    assert r.status_code == expect, r.text
    return r.json()


async def inbound_case(api: Api, program: str = "inbound_demo", **fields) -> dict:
    return await api.apply(program=program, **fields)


async def waiting_for_materials(api: Api) -> dict:
    case = await api.apply()
    await api.step(
        "town_a",
        case["id"],
        "accept_application",
        {"decision": "incomplete", "missing_materials": ["户口簿复印件"]},
    )
    return case


async def test_retries_with_the_same_key_deliver_once(api):
    case = await waiting_for_materials(api)
    body = {
        "name": "materials_supplemented",
        "application_id": case["id"],
        "payload": {"materials": ["户口簿复印件"]},
    }
    first = await send(api, body, key="portal-msg-1")
    assert first["kept"] is False and first["next_tasks"][0]["name"] == "accept_application"
    assert await send(api, body, key="portal-msg-1") == first  # the retry gets the first answer
    assert len(await api.events(case["id"], "message.received")) == 1
    r = await api.post(
        "portal",
        "/messages",
        {**body, "payload": {"materials": ["其他"]}},
        headers={"Idempotency-Key": "portal-msg-1"},
    )
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"

    # message_id in the body plays the same part; a failed attempt leaves the key unused.
    again = {**body, "message_id": "portal-msg-2"}
    r = await api.post("portal", "/messages", again)
    assert r.status_code == 409 and r.json()["code"] == "no_waiting_receiver"
    await api.step(
        "town_a",
        case["id"],
        "accept_application",
        {"decision": "incomplete", "missing_materials": ["家庭收入证明"]},
    )
    done = await send(api, again)
    assert await send(api, again) == done
    assert len(await api.events(case["id"], "message.received")) == 2
    r = await api.post("portal", "/messages", again, headers={"Idempotency-Key": "something-else"})
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_mismatch"
    # Keys belong to their sender: the same key from someone else is a different message.
    r = await api.post("town_a", "/messages", again)
    assert r.status_code == 409 and r.json()["code"] == "no_waiting_receiver"


async def test_payload_schema_from_the_bpmn(api):
    await api.upload(BPMN, "inbound_demo.bpmn")
    case = await inbound_case(api)
    await api.step("town_a", case["id"], "township_review", {})
    events_before = len(await api.events(case["id"]))
    for payload, field in [
        ({**PAID, "iban": "x"}, None),
        ({**PAID, "amount": "980"}, "amount"),
        ({"amount": 1}, None),
        ({**PAID, "paid_on": "yesterday"}, "paid_on"),
    ]:
        r = await api.post(
            "portal",
            "/messages",
            {"name": "payment_confirmed", "application_id": case["id"], "payload": payload},
        )
        assert r.status_code == 422 and r.json()["code"] == "payload_invalid", (payload, r.text)
        assert field is None or r.json()["errors"][0]["field"] == field
    assert len(await api.events(case["id"])) == events_before
    r = await api.post("portal", "/messages", {"name": "payment_confirmed", "payload": PAID})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"  # no target at all
    await send(api, {"name": "payment_confirmed", "application_id": case["id"], "payload": PAID})
    assert (await api.application(case["id"]))["status"] == "approved"


async def test_correlation_by_application_external_ref_and_person(api):
    await api.upload(BPMN, "inbound_demo.bpmn")
    await api.upload(BPMN.replace(b'"inbound_demo"', b'"inbound_demo_b"'), "inbound_demo_b.bpmn")
    by_ref = await inbound_case(api, external_ref="BANK-REF-7")
    await api.step("town_a", by_ref["id"], "township_review", {})
    await send(
        api,
        {
            "name": "payment_confirmed",
            "external_ref": "BANK-REF-7",
            "program": "inbound_demo",
            "payload": PAID,
        },
    )
    assert (await api.application(by_ref["id"]))["status"] == "approved"

    person = id_number()
    applicant = {"name": "李四", "id_number": person, "phone": "13900000001"}
    dibao = await api.apply(applicant=applicant)
    first = await inbound_case(api, applicant=applicant)
    second = await inbound_case(api, "inbound_demo_b", applicant=applicant)
    bystander = await inbound_case(api)
    with Receiver() as receiver:
        sub = await subscribe(api, "portal", receiver.url(), event_types=["application.terminated"])
        reached = await send(api, {"name": "person_deceased", "id_number": person, "payload": {}})
        assert sorted(d["application_id"] for d in reached["deliveries"]) == sorted(
            [first["id"], second["id"]]
        )
        await run(api)
        assert sorted(e["application_id"] for e in receiver.events()) == sorted([first["id"], second["id"]])
        assert {e["data"]["status"] for e in receiver.events()} == {"terminated"} and sub["id"]
    for case, status in (
        (first, "terminated"),
        (second, "terminated"),
        (dibao, "in_progress"),
        (bystander, "in_progress"),
    ):
        assert (await api.application(case["id"]))["status"] == status
    r = await api.post("portal", "/messages", {"name": "person_deceased", "id_number": person, "payload": {}})
    assert r.status_code == 409 and r.json()["code"] == "no_waiting_receiver"  # only the dibao case is left

    # (program, id_number) narrows to that program's case.
    await api.step("town_a", bystander["id"], "township_review", {})
    reached = await send(
        api,
        {
            "name": "payment_confirmed",
            "program": "inbound_demo",
            "id_number": bystander["applicant"]["id_number"],
            "payload": PAID,
        },
    )
    assert [d["application_id"] for d in reached["deliveries"]] == [bystander["id"]]
    r = await api.post(
        "portal", "/messages", {"name": "person_deceased", "id_number": id_number(), "payload": {}}
    )
    assert r.status_code == 404 and r.json()["code"] == "application_not_found"
    r = await api.post(
        "other_county", "/messages", {"name": "person_deceased", "id_number": person, "payload": {}}
    )
    assert r.status_code == 404  # a person's cases outside the sender's grants are not reached


async def test_early_event_is_kept_and_delivered_when_the_case_gets_there(api):
    await api.upload(BPMN, "inbound_demo.bpmn")
    case = await inbound_case(api)
    kept = await send(api, {"name": "payment_confirmed", "application_id": case["id"], "payload": PAID})
    assert kept["kept"] is True and kept["kept_until"]
    r = await api.post(
        "portal",
        "/messages",
        {
            "name": "payment_confirmed",
            "application_id": case["id"],
            "payload": {"amount": -1, "paid_on": await api.today()},
        },
    )
    assert r.status_code == 422  # an early message is checked against its schema when it arrives
    assert await api.count("early_messages") == 1

    task = await api.open_task(case["id"], "township_review")
    done = await api.complete("town_a", task["id"], {})
    assert done["application"]["status"] == "approved"  # the kept message took it through at once
    types = [e["type"] for e in await api.events(case["id"])]
    assert types.index("message.kept") < types.index("task.completed") < types.index("message.received")
    assert await api.count("early_messages", "delivered_at IS NOT NULL") == 1

    # Kept 3 days only: a late case does not receive a stale confirmation.
    late = await inbound_case(api)
    await send(api, {"name": "payment_confirmed", "application_id": late["id"], "payload": PAID})
    await api.advance(days=4)
    await api.step("town_a", late["id"], "township_review", {})
    assert (await api.application(late["id"]))["status"] == "in_progress"
    await send(api, {"name": "payment_confirmed", "application_id": late["id"], "payload": PAID})
    assert (await api.application(late["id"]))["status"] == "approved"

    # Without keep_early in the BPMN an early message is refused and nothing is kept.
    dibao = await api.apply()
    r = await api.post(
        "portal",
        "/messages",
        {"name": "objection", "application_id": dibao["id"], "payload": {"reason": "太早了"}},
    )
    assert r.status_code == 409 and r.json()["code"] == "no_waiting_receiver"
    assert await api.count("early_messages") == 2


async def test_early_event_before_the_case_exists_is_adopted_by_it(api):
    await api.upload(BPMN, "inbound_demo.bpmn")
    kept = await send(
        api,
        {"name": "payment_confirmed", "program": "inbound_demo", "external_ref": "FUTURE-1", "payload": PAID},
    )
    assert kept["kept"] is True and kept["application_id"] is None
    person = id_number()
    await send(
        api, {"name": "payment_confirmed", "program": "inbound_demo", "id_number": person, "payload": PAID}
    )
    stranger = id_number()  # sent by a township that does not cover the place the case is filed in
    await send(
        api,
        {"name": "payment_confirmed", "program": "inbound_demo", "id_number": stranger, "payload": PAID},
        who="town_b",
    )

    by_ref = await inbound_case(api, external_ref="FUTURE-1")
    by_person = await inbound_case(api, applicant={"name": "王五", "id_number": person})
    not_covered = await inbound_case(api, applicant={"name": "赵六", "id_number": stranger})
    for case in (by_ref, by_person, not_covered):
        await api.step("town_a", case["id"], "township_review", {})
    assert (await api.application(by_ref["id"]))["status"] == "approved"
    assert (await api.application(by_person["id"]))["status"] == "approved"
    assert (await api.application(not_covered["id"]))["status"] == "in_progress"

    for body, status, code in [
        (
            {"name": "payment_confirmed", "external_ref": "FUTURE-2", "payload": PAID},
            404,
            "application_not_found",
        ),
        (
            {"name": "objection", "program": "dibao", "external_ref": "FUTURE-3", "payload": {"reason": "x"}},
            404,
            "application_not_found",
        ),  # dibao does not keep early objections
        (
            {
                "name": "payment_confirmed",
                "program": "inbound_demo",
                "id_number": "340621198001010011",
                "payload": PAID,
            },
            422,
            "invalid_id_number",
        ),
        (
            {
                "name": "payment_confirmed",
                "program": "inbound_demo",
                "external_ref": "FUTURE-4",
                "payload": {"amount": 1},
            },
            422,
            "payload_invalid",
        ),
    ]:
        r = await api.post("portal", "/messages", body)
        assert r.status_code == status and r.json()["code"] == code, (body, r.text)
    assert await api.count("early_messages") == 3


async def test_a_person_event_by_id_number_also_ends_an_approved_case(edu):
    """minban ends support on person_deceased (enrolment_messages): reached through the person."""
    case = await _apply(edu)
    await _joint_review(edu, case["id"])
    await edu.advance(days=8)
    await edu.run_timers()
    await edu.step("edu", case["id"], "county_confirm", APPROVE)
    await edu.step("edu_city", case["id"], "city_recheck", APPROVE)
    await edu.set_clock("2027-03-20T09:00:00+08:00")
    body = {
        "name": "person_deceased",
        "id_number": case["applicant"]["id_number"],
        "payload": {"died_on": "2027-03-15"},
    }
    reached = await send(edu, body, key="civil-registry-0001")
    assert [d["application_id"] for d in reached["deliveries"]] == [case["id"]]
    assert (await edu.application(case["id"]))["status"] == "terminated"
    assert await send(edu, body, key="civil-registry-0001") == reached
