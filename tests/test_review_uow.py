"""Findings of a hostile review of the case-change unit of work (issue 17 item 1), each a test that
failed before its fix: follow-ups retried once per round and reported as started only when they
are, the trail's order (a notice closes before the status changes), kept messages (adopted whatever
the case's version declares, the oldest delivered first, a step they close not answered as next)."""

from pathlib import Path

from tests.helpers import Api
from tests.test_dynamic_management import _enrolled, _recheck_of, _work

# --- follow-up cases (case_followups, followups.start_requested) ---------------------------------


async def _recheck_decided_to_terminate_while_a_termination_runs(api: Api) -> tuple[dict, dict, dict]:
    """A re-check ends with "terminate" (it asks for a dibao_termination), and before the worker's
    next round the township starts a termination of the same enrolment by hand: the follow-up's
    program refuses (subject_case_in_progress) for as long as that termination runs."""
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
    assert await api.count("case_followups", "started_at IS NULL AND attempts = 0") == 1
    r = await api.post("town_a", "/applications", {"program": "dibao_termination", "subject_id": case["id"]})
    assert r.status_code == 201, r.text
    return case, recheck, r.json()


async def test_a_refused_followup_is_tried_once_per_worker_round(api: Api):
    await _recheck_decided_to_terminate_while_a_termination_runs(api)
    await _work(api)
    assert await api.count("case_followups", "started_at IS NULL AND attempts = 1") == 1


async def test_a_followup_refused_five_times_is_given_up_on_the_asking_case(api: Api):
    case, recheck, by_hand = await _recheck_decided_to_terminate_while_a_termination_runs(api)
    for attempt in range(1, 6):
        assert (await _work(api))["followups_started"] == 0
        assert await api.count("case_followups", f"started_at IS NULL AND attempts = {attempt}") == 1
        assert (await _work(api))["followups_started"] == 0  # backing off: not tried again at once
        assert await api.count("case_followups", f"attempts = {attempt}") == 1
        r = await api.post("admin", "/admin/clock", {"advance_seconds": 2 ** (attempt - 1) * 60 + 1})
        assert r.status_code == 200, r.text
    [failed] = await api.events(recheck["id"], "case.followup_failed")
    assert failed["data"]["program"] == "dibao_termination" and failed["data"]["attempts"] == 5
    assert failed["data"]["error"].startswith("subject_case_in_progress"), failed["data"]

    # An administrator sees it given up, and once the termination begun by hand is withdrawn, sends it again.
    [given_up] = (await api.get("admin", "/admin/followups/failed")).json()
    assert (given_up["application_id"], given_up["program"], given_up["attempts"]) == (
        recheck["id"],
        "dibao_termination",
        5,
    )
    assert given_up["last_error"].startswith("subject_case_in_progress"), given_up
    for who, status in (
        ("town_a", 403),
        ("portal", 403),
        (None, 401),
    ):  # a reviewer, a portal key, a stranger
        assert (await api.get(who, "/admin/followups/failed")).status_code == status
        assert (await api.post(who, f"/admin/followups/{given_up['id']}/retry")).status_code == status
    assert await api.count("case_followups", "attempts = 5") == 1  # refused calls changed nothing
    r = await api.post("admin", "/admin/followups/2147483000/retry")
    assert (r.status_code, r.json()["code"]) == (404, "followup_not_failed")
    r = await api.post("town_a", f"/applications/{by_hand['id']}/withdraw", {"reason": "重复发起，撤销本件"})
    assert r.status_code == 200, r.text
    retried = (await api.post("admin", f"/admin/followups/{given_up['id']}/retry")).json()
    assert (retried["id"], retried["status"]) == (given_up["id"], "due")
    assert [e["actor"] for e in await api.events(recheck["id"], "case.followup_retried")] == ["admin"]
    assert (await api.get("admin", "/admin/followups/failed")).json() == []
    assert (
        await api.post("admin", f"/admin/followups/{given_up['id']}/retry")
    ).status_code == 404  # not twice
    assert (await _work(api))["followups_started"] == 1
    started = (await api.get("county", "/applications", program="dibao_termination")).json()["items"]
    assert {c["status"] for c in started if c["id"] != by_hand["id"]} == {"in_progress"}, started
    assert case["id"] in {c["subject_id"] for c in started if c["id"] != by_hand["id"]}


async def test_a_round_that_starts_no_followup_says_so(api: Api):
    await _recheck_decided_to_terminate_while_a_termination_runs(api)
    assert (await _work(api))["followups_started"] == 0


# --- the order of the trail and the outbox ---------------------------------------------------------


async def test_a_withdrawn_case_closes_its_notice_before_its_status_changes(api: Api):
    case = await api.apply()
    await api.to_notice(case["id"])
    r = await api.post("portal", f"/applications/{case['id']}/withdraw", {"reason": "申请人主动撤回申请"})
    assert r.status_code == 200, r.text
    types = [e["type"] for e in await api.events(case["id"])]
    assert types.index("notice.closed") < types.index("application.status_changed"), types


# --- kept messages delivered by the unit of work ---------------------------------------------------

KEPT_CANCEL = (Path(__file__).parent / "bpmn" / "kept_cancel_demo.bpmn").read_bytes()


async def test_a_step_a_kept_message_cancels_at_once_is_not_answered_as_next(api: Api):
    await api.upload(KEPT_CANCEL, "kept_cancel_demo.bpmn")
    case = await api.apply(program="kept_cancel_demo")
    r = await api.post(
        "portal", "/messages", {"name": "case_closed", "application_id": case["id"], "payload": {}}
    )
    assert r.status_code == 202 and r.json()["kept"] is True, r.text
    done = await api.step("town_a", case["id"], "first_review", {})
    assert done["application"]["status"] == "refused"  # the kept message took the case to its end
    assert done["application"]["open_tasks"] == []
    assert await api.count("tasks", f"application_id = '{case['id']}' AND state = 'open'") == 0
    assert [(t["name"], t["state"]) for t in done["next_tasks"]] == [], done["next_tasks"]


INBOUND = (Path(__file__).parent / "bpmn" / "inbound_demo.bpmn").read_bytes()
PAID = {"amount": 980.5, "paid_on": "2026-11-02", "bank_ref": "ICBC-0001"}


async def test_a_message_kept_for_a_case_to_come_reaches_a_case_started_on_a_pinned_version(api: Api):
    without_keep = INBOUND.replace(b'<spiffworkflow:property name="keep_early" value="3 days" />', b"")
    assert without_keep != INBOUND
    await api.upload(without_keep, "inbound_demo.bpmn")  # version 1 keeps nothing
    await api.upload(INBOUND, "inbound_demo.bpmn")  # version 2 keeps payment_confirmed 3 days
    r = await api.put("admin", "/process-definitions/inbound_demo/rollout", {"default_version": 1})
    assert r.status_code == 200, r.text
    r = await api.post(
        "portal",
        "/messages",
        {"name": "payment_confirmed", "program": "inbound_demo", "external_ref": "FUTURE-1", "payload": PAID},
    )
    assert r.status_code == 202 and r.json()["kept"] is True, r.text
    case = await api.apply(program="inbound_demo", external_ref="FUTURE-1")
    assert case["definition_version"] == 1
    await api.step("town_a", case["id"], "township_review", {})
    # The case now waits for payment_confirmed, which the service accepted and kept for it.
    assert (await api.application(case["id"]))["status"] == "approved"


KEPT_RACE = (Path(__file__).parent / "bpmn" / "kept_race_demo.bpmn").read_bytes()


async def test_the_message_kept_first_wins_an_event_based_gateway(api: Api):
    await api.upload(KEPT_RACE, "kept_race_demo.bpmn")
    case = await api.apply(program="kept_race_demo")
    for name in ("bank_paid", "applicant_refused"):  # the bank's confirmation came first
        r = await api.post("portal", "/messages", {"name": name, "application_id": case["id"], "payload": {}})
        assert r.status_code == 202 and r.json()["kept"] is True, r.text
    done = await api.step("town_a", case["id"], "review", {})
    received = [e["data"]["name"] for e in await api.events(case["id"], "message.received")]
    assert received == ["bank_paid"] and done["application"]["status"] == "approved", received
