"""退回, 转办, 委派, 加签/减签, 抄送, 催办, 撤回, 撤销, and steps decided by several people."""

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db.engine import create_engine
from app.db.models import outbox
from tests.helpers import Api
from tests.row_barrier import collide

APPROVE = {"decision": "approve", "opinion": "情况属实"}
CONFIRM = {"decision": "approve", "monthly_amount": 580, "dibao_class": "B"}
EXTRA = {
    "chief": ("township_civil_affairs", "340621100"),
    "health": ("county_health", "340621"),
    "t3": ("township_civil_affairs", "340621100"),
    "t4": ("township_civil_affairs", "340621100"),
    "t5": ("township_civil_affairs", "340621100"),
}


@pytest.fixture
async def office(api: Api) -> Api:
    await api.add_people(EXTRA)
    return api


async def _at_county(api: Api) -> dict:
    case = await api.apply()
    await api.to_notice(case["id"])
    await api.advance(days=7, seconds=600)
    assert await api.run_timers() == 1
    return case


async def test_county_returns_the_case_to_the_township_investigation(office: Api):
    case = await _at_county(office)
    confirm = await office.open_task(case["id"], "county_confirm")
    r = await office.get("county", f"/tasks/{confirm['id']}/return-targets")
    assert [t["step"] for t in r.json()] == ["initial_review", "accept_application"]
    r = await office.post(
        "county", f"/tasks/{confirm['id']}/return", {"to": "deliver_refusal_notice", "reason": "x"}
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_return_target"
    r = await office.post(
        "county",
        f"/tasks/{confirm['id']}/return",
        {"to": "initial_review", "reason": "入户调查记录不完整，请补充家庭收入核对"},
    )
    assert r.status_code == 200, r.text
    [again] = r.json()["next_tasks"]
    assert again["name"] == "initial_review" and again["division_code"] == "340621100"
    assert (
        again["note"]["reason"] == "入户调查记录不完整，请补充家庭收入核对"
        and again["note"]["returned_from"] == "county_confirm"
    )
    assert (await office.get("county", f"/tasks/{confirm['id']}")).json()["state"] == "cancelled"
    # The township investigates again and the notice runs again, as the BPMN says.
    await office.complete("town_a", again["id"], APPROVE)
    assert [e["data"]["round"] for e in await office.events(case["id"], "notice.opened")] == [1, 2]
    await office.advance(days=7, seconds=600)
    assert await office.run_timers() == 1
    done = await office.step("county", case["id"], "county_confirm", CONFIRM)
    assert done["application"]["status"] == "approved"
    assert [e["data"]["to"] for e in await office.events(case["id"], "task.returned")] == ["initial_review"]
    assert (
        await office.count("outbox", f"event_type = 'task.returned' AND application_id = '{case['id']}'") == 1
    )


async def test_return_is_never_to_a_later_step_or_a_parallel_branch(office: Api):
    case = await office.apply()
    await office.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    review = await office.open_task(case["id"], "initial_review")
    r = await office.post("town_a", f"/tasks/{review['id']}/return", {"to": "county_confirm", "reason": "x"})
    assert r.status_code == 422 and r.json()["targets"] == ["accept_application"]
    # minban's four county departments review in parallel: none may return to another's branch.
    from tests.test_minban import OFFICES, teacher_id

    # Some of minban's offices are among the fixture's people already: only the others are added.
    await office.add_people({u: g for u, g in OFFICES.items() if u not in office.headers})
    r = await office.post(
        "portal",
        "/applications",
        {
            "program": "minban",
            "division_code": "340621100201",
            "applicant": {"name": "周", "id_number": teacher_id("19500101", True)},
            "data": {
                "teacher_kind": "minban",
                "terms_taught": 20,
                "schools": ["x"],
                "retired_under_plan": False,
                "died_before_cutoff": False,
                "criminal_record": False,
                "dismissed": False,
            },
        },
    )
    teacher = r.json()
    await office.step("edu_town", teacher["id"], "township_initial_review", APPROVE)
    branches = {t["name"]: t for t in (await office.application(teacher["id"]))["open_tasks"]}
    await office.complete("edu", branches["education_review"]["id"], {"education_decision": "approve"})
    r = await office.get("finance", f"/tasks/{branches['finance_review']['id']}/return-targets")
    assert [t["step"] for t in r.json()] == ["township_initial_review"]


@pytest.mark.parametrize("first", ["complete", "return"])
async def test_a_return_racing_a_completion_has_one_winner(office: Api, first: str):
    if office.database_url.startswith("sqlite"):
        pytest.skip("SQLite takes the write lock at BEGIN: the second request reads the first one's change")
    case = await _at_county(office)
    confirm = await office.open_task(case["id"], "county_confirm")
    requests = {
        "complete": office.post("county", f"/tasks/{confirm['id']}/complete", {"data": CONFIRM}),
        "return": office.post(
            "county", f"/tasks/{confirm['id']}/return", {"to": "initial_review", "reason": "重新核查"}
        ),
    }
    second = "return" if first == "complete" else "complete"
    # Both have read the open step; both wait at its guarded UPDATE, and ``first`` gets there first.
    won, lost = await collide(
        office.database_url, "tasks", confirm["id"], "UPDATE tasks", requests[first], requests[second]
    )
    assert won.status_code == 200, won.text
    assert lost.status_code == 409 and lost.json()["code"] == "task_not_open", lost.text
    app = await office.application(case["id"])
    if first == "complete":
        assert app["status"] == "approved" and app["open_tasks"] == []
        state = "completed"
    else:
        assert app["status"] == "in_progress"
        assert [t["name"] for t in app["open_tasks"]] == ["initial_review"]
        state = "cancelled"
    assert await office.count("tasks", f"id = '{confirm['id']}' AND state = '{state}'") == 1


async def test_transfer_only_to_someone_who_may_act(office: Api):
    case = await office.apply()
    task = await office.open_task(case["id"], "accept_application")
    await office.post("town_a", f"/tasks/{task['id']}/claim")
    r = await office.post("town_a", f"/tasks/{task['id']}/transfer", {"username": "town_b", "reason": "休假"})
    assert r.status_code == 422 and r.json()["code"] == "cannot_take_task"
    r = await office.post("town_a", f"/tasks/{task['id']}/transfer", {"username": "nobody", "reason": "休假"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_user"
    r = await office.post(
        "town_a", f"/tasks/{task['id']}/transfer", {"username": "town_a2", "reason": "休假，转办"}
    )
    assert r.status_code == 200 and r.json()["assignee"] == "town_a2"
    assert (
        await office.post("town_a", f"/tasks/{task['id']}/complete", {"data": {"decision": "accept"}})
    ).status_code == 409
    await office.complete("town_a2", task["id"], {"decision": "accept"})
    [moved] = await office.events(case["id"], "task.transferred")
    assert moved["data"] == {"from": "town_a", "to": "town_a2", "reason": "休假，转办"}


async def test_delegate_for_an_opinion_then_the_holder_decides(office: Api):
    case = await office.apply()
    await office.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    review = await office.open_task(case["id"], "initial_review")
    r = await office.post(
        "town_a",
        f"/tasks/{review['id']}/delegate",
        {"username": "health", "note": "请卫健部门对残疾等级出具意见"},
    )
    assert r.status_code == 200 and r.json()["delegated_to"] == "health" and r.json()["assignee"] == "town_a"
    assert (await office.post("town_a", f"/tasks/{review['id']}/complete", {"data": APPROVE})).json()[
        "code"
    ] == "task_delegated"
    mine = (await office.get("health", "/tasks", scope="mine")).json()["items"]
    assert [t["id"] for t in mine] == [review["id"]]
    r = await office.post("health", f"/tasks/{review['id']}/complete", {"data": APPROVE})
    assert r.status_code == 403  # an opinion, not a decision
    r = await office.post("health", f"/tasks/{review['id']}/resolve", {"opinion": "经鉴定为二级肢体残疾"})
    assert r.status_code == 200 and r.json()["note"]["opinions"][0]["opinion"] == "经鉴定为二级肢体残疾"
    await office.complete("town_a", review["id"], APPROVE)
    [resolved] = await office.events(case["id"], "task.resolved")
    assert resolved["actor"] == "health" and resolved["data"]["opinion"] == "经鉴定为二级肢体残疾"


async def test_signers_before_and_after_and_removing_one(office: Api):
    case = await office.apply()
    await office.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    review = await office.open_task(case["id"], "initial_review")
    url = f"/tasks/{review['id']}/signers"
    assert (await office.post("town_a", url, {"usernames": ["town_a2"], "position": "before"})).json()[
        "code"
    ] == "claim_first"
    await office.post("town_a", f"/tasks/{review['id']}/claim")
    r = await office.post(
        "town_a", url, {"usernames": ["town_a2", "t3"], "position": "before", "note": "请先审核"}
    )
    assert r.status_code == 200, r.text
    assert (
        await office.client.delete(f"/api/v1{url}/t3", headers=office.headers["town_a"])
    ).status_code == 200
    assert (
        await office.client.delete(f"/api/v1{url}/t4", headers=office.headers["town_a"])
    ).status_code == 409
    r = await office.post("town_a", f"/tasks/{review['id']}/complete", {"data": APPROVE})
    assert (
        r.status_code == 409 and r.json()["code"] == "signers_pending" and r.json()["signers"] == ["town_a2"]
    )
    assert (
        await office.post("t3", f"/tasks/{review['id']}/sign", {"decision": "approve"})
    ).status_code == 409
    await office.post("town_a2", f"/tasks/{review['id']}/sign", {"decision": "approve", "opinion": "同意"})
    r = await office.post("town_a", url, {"usernames": ["chief"], "position": "after"})
    assert r.status_code == 200, r.text
    held = await office.complete("town_a", review["id"], APPROVE)
    assert (
        held["waiting_for_signers"] is True
        and (await office.application(case["id"]))["open_tasks"][0]["id"] == review["id"]
    )
    assert [t["id"] for t in (await office.get("chief", "/tasks", scope="mine")).json()["items"]] == [
        review["id"]
    ]
    # The step completes only when the signer after the holder has also decided.
    done = await office.post(
        "chief", f"/tasks/{review['id']}/sign", {"decision": "approve", "opinion": "同意公示"}
    )
    assert done.status_code == 200, done.text
    assert (await office.application(case["id"]))["open_tasks"] == []  # on notice now
    completed = (await office.get("town_a", f"/tasks/{review['id']}")).json()
    assert completed["state"] == "completed" and completed["completed_by"] == "town_a"
    assert len(await office.events(case["id"], "task.signed")) == 2


async def test_a_signer_after_who_refuses_sends_the_step_back_to_its_holder(office: Api):
    case = await office.apply()
    task = await office.open_task(case["id"], "accept_application")
    await office.post("town_a", f"/tasks/{task['id']}/claim")
    await office.post("town_a", f"/tasks/{task['id']}/signers", {"usernames": ["chief"], "position": "after"})
    await office.complete("town_a", task["id"], {"decision": "accept"})
    r = await office.post("chief", f"/tasks/{task['id']}/sign", {"decision": "refuse", "opinion": "材料不齐"})
    assert r.json()["back_to"] == "town_a"
    again = (await office.get("town_a", f"/tasks/{task['id']}")).json()
    assert again["state"] == "open" and again["note"]["refused_by_signer"]["opinion"] == "材料不齐"
    await office.complete("town_a", task["id"], {"decision": "incomplete", "missing_materials": ["户口簿"]})
    await office.post("chief", f"/tasks/{task['id']}/sign", {"decision": "approve"})
    assert (await office.get("town_a", f"/tasks/{task['id']}")).json()["state"] == "completed"


async def test_copy_lets_people_read_and_find_the_case_but_not_act(office: Api):
    case = await office.apply()
    task = await office.open_task(case["id"], "accept_application")
    # Copies go to the program's offices at or above the case's place (here the county); see
    # tests/test_copies_and_identities.py for those refused.
    r = await office.post("town_a", f"/tasks/{task['id']}/cc", {"usernames": ["county"], "note": "请知悉"})
    assert r.status_code == 200, r.text
    assert (await office.get("county", f"/applications/{case['id']}")).status_code == 200
    cc = (await office.get("county", "/tasks", scope="cc")).json()["items"]
    assert [t["id"] for t in cc] == [task["id"]]
    counts = (await office.get("county", "/tasks/counts")).json()
    assert counts["cc"] == 1 and counts["candidate"] == 0
    assert (
        await office.post("county", f"/tasks/{task['id']}/complete", {"data": {"decision": "accept"}})
    ).status_code == 403
    r = await office.post("town_a", f"/tasks/{task['id']}/cc", {})
    assert r.status_code == 422


async def test_urging_is_for_supervisors_and_the_portal_once_a_working_day(office: Api):
    await office.set_clock("2026-11-24T09:00:00+08:00")
    case = await office.apply()
    task = await office.open_task(case["id"], "accept_application")
    # Another township's task does not exist for town_b; a peer of the holder's level is no supervisor.
    r = await office.post("town_b", f"/tasks/{task['id']}/urge", {"note": "x"})
    assert r.status_code == 404 and r.json()["code"] == "task_not_found", r.text
    r = await office.post("town_a2", f"/tasks/{task['id']}/urge", {"note": "x"})
    assert r.status_code == 403 and r.json()["code"] == "not_allowed", r.text
    r = await office.post("portal", f"/tasks/{task['id']}/urge", {"note": "申请人来电询问进度"})
    assert r.status_code == 200 and r.json()["urged"] == ["township_civil_affairs@340621100"]
    r = await office.post("county", f"/tasks/{task['id']}/urge", {"note": "请尽快受理"})
    assert r.status_code == 429 and r.json()["code"] == "urged_today"
    assert 15 * 3600 - 60 < int(r.headers["Retry-After"]) <= 15 * 3600  # until the next working day begins
    await office.advance(days=1)
    assert (
        await office.post("county", f"/tasks/{task['id']}/urge", {"note": "请尽快受理"})
    ).status_code == 200
    assert await office.count("outbox", "event_type = 'task.urged'") == 2


async def test_withdraw_own_step_until_the_next_is_claimed(office: Api):
    case = await office.apply()
    await office.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    accepted = (await office.get("town_a", "/tasks", scope="done")).json()["items"]
    assert [t["name"] for t in accepted] == ["accept_application"]
    assert (await office.post("town_a2", f"/tasks/{accepted[0]['id']}/withdraw")).status_code == 409
    r = await office.post("town_a", f"/tasks/{accepted[0]['id']}/withdraw")
    assert r.status_code == 200, r.text
    [reopened] = r.json()["next_tasks"]
    assert reopened["name"] == "accept_application" and reopened["assignee"] == "town_a"
    assert (
        await office.count(
            "tasks", f"application_id = '{case['id']}' AND name = 'initial_review' AND state = 'cancelled'"
        )
        == 1
    )
    await office.complete("town_a", reopened["id"], {"decision": "accept", "opinion": "补录受理意见"})
    review = await office.open_task(case["id"], "initial_review")
    await office.post("town_a2", f"/tasks/{review['id']}/claim")
    r = await office.post("town_a", f"/tasks/{reopened['id']}/withdraw")
    assert r.status_code == 409 and r.json()["code"] == "not_withdrawable"


async def test_the_applicant_withdraws_until_the_county_has_decided(office: Api):
    case = await office.apply()
    await office.to_notice(case["id"])
    r = await office.post("town_b", f"/applications/{case['id']}/withdraw", {"reason": "x"})
    assert r.status_code == 404
    r = await office.post(
        "portal", f"/applications/{case['id']}/withdraw", {"reason": "申请人已外出务工，主动撤回申请"}
    )
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert (
        await office.count("notice_entries", f"application_id = '{case['id']}' AND status = 'withdrawn'") == 1
    )
    assert await office.count("timers", f"application_id = '{case['id']}' AND fired_at IS NULL") == 0
    assert (
        await office.post("portal", f"/applications/{case['id']}/withdraw", {"reason": "x"})
    ).status_code == 409

    by_township = await office.apply()
    r = await office.post(
        "town_a", f"/applications/{by_township['id']}/withdraw", {"reason": "本人书面申请撤回"}
    )
    assert (
        r.status_code == 200
        and await office.count("tasks", f"application_id = '{by_township['id']}' AND state = 'cancelled'")
        == 1
    )

    decided = await _at_county(office)
    await office.step("county", decided["id"], "county_confirm", CONFIRM)
    r = await office.post("portal", f"/applications/{decided['id']}/withdraw", {"reason": "x"})
    assert r.status_code == 409 and r.json()["code"] == "not_cancellable"
    assert await office.count("outbox", "event_type = 'application.withdrawn'") == 2


JOINT = (Path(__file__).parent / "bpmn" / "joint_decision.bpmn").read_bytes()


async def test_joint_any_and_sequential_decisions(office: Api):
    await office.upload(JOINT, "joint.bpmn")
    case = await office.apply(program="joint_decision_demo", data={"reviewers": ["t4", "t3"]})
    task = case["open_tasks"][0]
    assert (await office.post("town_a", f"/tasks/{task['id']}/complete", {"data": APPROVE})).json()[
        "code"
    ] == "decided_by_votes"
    # 会签 by the six township officers, 60 % must agree: four approvals decide it.
    for who, decision in (
        ("town_a", "approve"),
        ("town_a2", "refuse"),
        ("chief", "approve"),
        ("t3", "approve"),
    ):
        r = await office.post(who, f"/tasks/{task['id']}/sign", {"decision": decision, "opinion": who})
        assert r.status_code == 200 and "next_tasks" not in r.json(), r.text
    r = await office.post("t4", f"/tasks/{task['id']}/sign", {"decision": "approve"})
    assert [t["name"] for t in r.json()["next_tasks"]] == ["any_review"]
    assert (await office.post("t5", f"/tasks/{task['id']}/sign", {"decision": "approve"})).status_code == 409
    done = (await office.get("admin", f"/tasks/{task['id']}")).json()
    assert done["data"]["decision"] == "approve" and len(done["data"]["votes"]) == 5
    # 或签: the first of the listed reviewers decides.
    any_task = (await office.application(case["id"]))["open_tasks"][0]
    r = await office.post("t3", f"/tasks/{any_task['id']}/sign", {"decision": "approve"})
    assert [t["name"] for t in r.json()["next_tasks"]] == ["ordered_review"]
    # 依次: in the listed order.
    ordered = (await office.application(case["id"]))["open_tasks"][0]
    assert (await office.post("t3", f"/tasks/{ordered['id']}/sign", {"decision": "approve"})).json()[
        "code"
    ] == "not_your_turn"
    await office.post("t4", f"/tasks/{ordered['id']}/sign", {"decision": "approve"})
    r = await office.post("t3", f"/tasks/{ordered['id']}/sign", {"decision": "approve"})
    assert r.json()["application"]["status"] == "approved"

    refused = await office.apply(program="joint_decision_demo", data={"reviewers": ["t4"]})
    task = refused["open_tasks"][0]
    for who in ("town_a", "town_a2"):
        await office.post(who, f"/tasks/{task['id']}/sign", {"decision": "refuse"})
    r = await office.post("chief", f"/tasks/{task['id']}/sign", {"decision": "refuse"})
    assert r.json()["application"]["status"] == "refused"  # 3 of 6 refused: 60 % can no longer agree


async def test_every_inbox_scope_has_its_count(office: Api):
    case = await office.apply()
    await office.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    counts = (await office.get("town_a", "/tasks/counts")).json()
    assert counts == {"candidate": 1, "mine": 0, "done": 1, "cc": 0, "started": 0}
    assert (await office.get("portal", "/tasks/counts")).json()["started"] == 1
    started = (await office.get("portal", "/tasks", scope="started")).json()["items"]
    assert [t["name"] for t in started] == ["initial_review"]
    assert (await office.get("town_a", "/tasks", scope="nonsense")).status_code == 422


async def test_every_action_reaches_the_event_stream_without_private_text(office: Api):
    case = await office.apply()
    task = await office.open_task(case["id"], "accept_application")
    await office.post("town_a", f"/tasks/{task['id']}/claim")
    await office.post(
        "town_a", f"/tasks/{task['id']}/cc", {"roles": ["county_civil_affairs"], "note": "请知悉"}
    )
    await office.post("town_a", f"/tasks/{task['id']}/delegate", {"username": "health", "note": "请出具意见"})
    await office.post("health", f"/tasks/{task['id']}/resolve", {"opinion": "患有慢性病，需长期服药"})
    await office.post(
        "town_a", f"/tasks/{task['id']}/signers", {"usernames": ["chief"], "position": "before"}
    )
    await office.post("chief", f"/tasks/{task['id']}/sign", {"decision": "approve", "opinion": "同意"})
    await office.post("town_a", f"/tasks/{task['id']}/transfer", {"username": "town_a2", "reason": "出差"})
    await office.post("portal", f"/tasks/{task['id']}/urge", {"note": "申请人催问"})
    await office.complete("town_a2", task["id"], {"decision": "accept"})
    review = await office.open_task(case["id"], "initial_review")
    await office.post(
        "town_a", f"/tasks/{review['id']}/return", {"to": "accept_application", "reason": "材料需复核"}
    )
    types = {
        "case.copied",
        "task.delegated",
        "task.resolved",
        "task.signers_added",
        "task.signed",
        "task.transferred",
        "task.urged",
        "task.returned",
    }
    for kind in types:
        assert (
            await office.count("outbox", f"event_type = '{kind}' AND application_id = '{case['id']}'") == 1
        ), kind
        assert len(await office.events(case["id"], kind)) == 1, kind
    db = create_engine(office.database_url)
    try:
        async with db.connect() as conn:
            payloads = (
                (await conn.execute(sa.select(outbox.c.payload).where(outbox.c.application_id == case["id"])))
                .scalars()
                .all()
            )
    finally:
        await db.dispose()
    text = json.dumps(payloads, ensure_ascii=False)
    assert (
        "task.returned" in text and "慢性病" not in text and "材料需复核" not in text
    )  # they stay in the audit trail


async def test_withdrawing_the_review_while_its_notice_runs_withdraws_the_notice(office: Api):
    """撤回 of the township review while the case waits in its 7-day notice: the notice entry is
    withdrawn and the review opens again for its author; it never ends in a 500."""
    case = await office.apply()
    await office.to_notice(case["id"])
    [review] = [
        t
        for t in (await office.get("town_a", "/tasks", scope="done")).json()["items"]
        if t["name"] == "initial_review"
    ]
    assert await office.count("notice_entries", f"application_id = '{case['id']}' AND status = 'listed'") == 1
    r = await office.post("town_a", f"/tasks/{review['id']}/withdraw")
    assert r.status_code == 200, r.text
    [reopened] = r.json()["next_tasks"]
    assert reopened["name"] == "initial_review" and reopened["assignee"] == "town_a"
    assert await office.count("notice_entries", f"application_id = '{case['id']}' AND status = 'listed'") == 0
    assert (
        await office.count(
            "timers", f"application_id = '{case['id']}' AND cancelled = false AND fired_at IS NULL"
        )
        == 0
    )
    await office.advance(days=8)
    await office.run_timers()
    assert (await office.open_task(case["id"]))["name"] == "initial_review"
