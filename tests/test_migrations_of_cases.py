"""Moving running cases to a revised procedure, dry run first; a notice keeps its original end."""

from app.config import PROJECT_ROOT
from tests.helpers import Api

DIBAO = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_bytes()


async def _migrate(api: Api, body: dict, expect: int = 200) -> dict:
    r = await api.post("admin", "/process-definitions/dibao/migrations", body)
    assert r.status_code == expect, r.text
    return r.json()


async def test_a_case_mid_notice_moves_and_its_notice_keeps_its_end(api: Api):
    case = await api.apply()
    await api.to_notice(case["id"])
    due_before = (await api.events(case["id"], "timer.scheduled"))[0]["data"]["due_at"]
    waiting = await api.apply()  # still at acceptance
    await api.upload(
        DIBAO.replace(b'"P7D"', b'"P5D"').replace(b'value="3 working days"', b'value="4 working days"'),
        "dibao.bpmn",
    )

    plan = await _migrate(api, {"from_version": 1, "to_version": 2})
    assert (
        plan["dry_run"] is True and plan["total"] == 2 and plan["can_migrate"] == 2 and plan["migrated"] == 0
    )
    assert (await api.application(case["id"]))["definition_version"] == 1
    done = await _migrate(
        api,
        {
            "from_version": 1,
            "to_version": 2,
            "dry_run": False,
            "application_ids": [case["id"], waiting["id"]],
        },
    )
    assert done["migrated"] == 2
    assert (await api.application(case["id"]))["definition_version"] == 2
    assert [e["data"]["to_version"] for e in await api.events(case["id"], "application.migrated")] == [2]

    # The notice still ends 7 days after it began, not 5 days after the move.
    assert await api.count("timers", f"application_id = '{case['id']}' AND fired_at IS NULL") == 1
    assert [e["data"]["due_at"] for e in await api.events(case["id"], "timer.scheduled")] == [due_before]
    await api.advance(days=6)
    assert await api.run_timers() == 0
    await api.advance(days=1, seconds=60)
    assert await api.run_timers() == 1
    await api.open_task(case["id"], "county_confirm")

    # The case that waited at acceptance goes on with the same task row, now on version 2.
    task = await api.open_task(waiting["id"], "accept_application")
    assert task["id"] == waiting["open_tasks"][0]["id"]
    await api.complete("town_a", task["id"], {"decision": "accept"})
    await api.open_task(waiting["id"], "initial_review")


async def test_renamed_steps_need_a_mapping(api: Api):
    case = await api.apply()
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    review = await api.open_task(case["id"], "initial_review")
    await api.post("town_a", f"/tasks/{review['id']}/claim")
    await api.upload(DIBAO.replace(b"initial_review", b"township_review"), "dibao.bpmn")

    plan = await _migrate(api, {"from_version": 1, "to_version": 2})
    assert plan["can_migrate"] == 0 and "initial_review" in plan["cases"][0]["reason"]
    mapping = {"initial_review": "township_review"}
    plan = await _migrate(api, {"from_version": 1, "to_version": 2, "task_mapping": mapping})
    assert plan["cases"][0] == {
        "application_id": case["id"],
        "can_migrate": True,
        "open_steps": ["township_review"],
    }
    await _migrate(api, {"from_version": 1, "to_version": 2, "task_mapping": mapping, "dry_run": False})
    moved = await api.open_task(case["id"], "township_review")
    assert (
        moved["id"] == review["id"] and moved["assignee"] == "town_a" and moved["due_at"] == review["due_at"]
    )
    await api.complete("town_a", moved["id"], {"decision": "approve"})
    assert (await api.application(case["id"]))["open_tasks"] == []  # on notice now


async def test_bad_migration_requests(api: Api):
    await api.apply()
    await _migrate(api, {"from_version": 1, "to_version": 1}, expect=422)
    r = await api.post("admin", "/process-definitions/dibao/migrations", {"from_version": 1, "to_version": 9})
    assert r.status_code == 404 and r.json()["code"] == "unknown_version"
    r = await api.post(
        "county", "/process-definitions/dibao/migrations", {"from_version": 1, "to_version": 2}
    )
    assert r.status_code == 403 and r.json()["code"] == "admin_only", r.text


def test_engine_migration_keeps_a_waiting_timer_end():
    """SpiffWorkflow re-plans a waiting timer from the moment of migration; AidFlow keeps its end."""
    from app import clock, engine

    xml = DIBAO.decode()
    v1, v2 = engine.model_for(9001, xml), engine.model_for(9002, xml.replace('"P7D"', '"P5D"'))
    case = engine.Case.start(v1, {"applicant": {}, "staff_relative": False})
    for data in ({"decision": "accept"}, {"decision": "approve"}):
        state = case.outcome()
        case = engine.Case.load(v1, state.state)
        case.complete(state.opened[0].engine_task_id, data)
    end = case.pending_timers()[0].due_at
    saved = case.outcome().state
    offset = clock.offset_seconds()
    clock.set_offset_seconds(offset + 86400)  # migrate a day later
    try:
        moved = engine.Case.load(v1, saved)
        ids = moved.migrate_to(v2, {})
        assert [t.due_at for t in moved.pending_timers()] == [end]
        assert list(ids["timers"].values()) == [moved.pending_timers()[0].engine_task_id]
        assert engine.Case.load(v2, moved.outcome().state).pending_timers()[0].due_at == end
    finally:
        clock.set_offset_seconds(offset)
