"""Who sees and acts on which task, and two reviewers racing for the same one.

The races meet for real on PostgreSQL: both requests have read the open, unclaimed task and wait at
the guarded ``UPDATE tasks`` while another connection holds the row (tests/row_barrier.py); the
first in line wins, the second's guard finds the winner's committed change. Without the guard's
conditions both would succeed (checked by removing them)."""

from tests.helpers import VILLAGE_B, Api
from tests.row_barrier import collide


async def test_township_sees_only_its_own_tasks(api: Api):
    case_a = await api.apply()
    case_b = await api.apply(division_code=VILLAGE_B)
    task_a = (await api.open_task(case_a["id"]))["id"]
    task_b = (await api.open_task(case_b["id"]))["id"]

    inbox_a = (await api.get("town_a", "/tasks")).json()["items"]
    assert [t["id"] for t in inbox_a] == [task_a]
    inbox_b = (await api.get("town_b", "/tasks")).json()["items"]
    assert [t["id"] for t in inbox_b] == [task_b]

    # Another township's task and case look like they do not exist.
    for path in (f"/tasks/{task_b}", f"/applications/{case_b['id']}", f"/applications/{case_b['id']}/events"):
        r = await api.get("town_a", path)
        assert r.status_code == 404 and r.json()["code"].endswith("not_found"), path
    r = await api.post("town_a", f"/tasks/{task_b}/claim")
    assert r.status_code == 404 and r.json()["code"] == "task_not_found", r.text
    r = await api.post("town_a", f"/tasks/{task_b}/complete", {"data": {"decision": "accept"}})
    assert r.status_code == 404 and r.json()["code"] == "task_not_found", r.text
    listed = (await api.get("town_a", "/applications")).json()["items"]
    assert [a["id"] for a in listed] == [case_a["id"]]


async def test_county_supervises_but_does_not_act_on_township_tasks(api: Api):
    case_a = await api.apply()
    case_b = await api.apply(division_code=VILLAGE_B)
    task_a = (await api.open_task(case_a["id"]))["id"]

    assert (await api.get("county", "/tasks")).json()["items"] == []  # nothing of its role yet
    seen = {t["application_id"] for t in (await api.get("county", "/tasks", scope="all")).json()["items"]}
    assert seen == {case_a["id"], case_b["id"]}
    by_place = (await api.get("county", "/tasks", scope="all", division_code="340621101")).json()["items"]
    assert [t["application_id"] for t in by_place] == [case_b["id"]]
    r = await api.get("county", f"/tasks/{task_a}")
    assert r.status_code == 200 and r.json()["form_schema"]["title"] == "受理"
    for action, body in (("claim", None), ("complete", {"data": {"decision": "accept"}})):
        r = await api.post("county", f"/tasks/{task_a}/{action}", body)
        assert r.status_code == 403 and r.json()["code"] == "not_your_role", action
    # A county of another place sees nothing here.
    assert (await api.get("other_county", "/tasks", scope="all")).json()["items"] == []
    r = await api.get("other_county", f"/applications/{case_a['id']}")
    assert r.status_code == 404 and r.json()["code"] == "application_not_found", r.text


async def test_claim_unclaim_assign(api: Api):
    case = await api.apply()
    task = (await api.open_task(case["id"]))["id"]
    r = await api.post("town_a", f"/tasks/{task}/claim")
    assert r.status_code == 200 and r.json()["assignee"] == "town_a"
    assert (await api.post("town_a", f"/tasks/{task}/claim")).status_code == 200  # claiming twice is harmless
    assert [t["id"] for t in (await api.get("town_a", "/tasks", scope="mine")).json()["items"]] == [task]
    assert (await api.get("town_a2", "/tasks")).json()["items"] == []  # no longer a candidate for others
    r = await api.post("town_a2", f"/tasks/{task}/claim")
    assert r.status_code == 409 and r.json()["code"] == "task_claimed"
    r = await api.post("town_a2", f"/tasks/{task}/complete", {"data": {"decision": "accept"}})
    assert r.status_code == 409 and r.json()["code"] == "task_claimed", r.text
    r = await api.post("town_a2", f"/tasks/{task}/unclaim")
    assert r.status_code == 409 and r.json()["code"] == "task_claimed", r.text

    r = await api.post("town_a", f"/tasks/{task}/assign", {"username": "town_b"})
    assert r.status_code == 422 and r.json()["code"] == "assignee_cannot_act"
    r = await api.post("town_a", f"/tasks/{task}/assign", {"username": "nobody"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_user"
    r = await api.post("town_a", f"/tasks/{task}/assign", {"username": "town_a2"})
    assert r.status_code == 200 and r.json()["assignee"] == "town_a2"
    assert (await api.post("town_a2", f"/tasks/{task}/unclaim")).json()["assignee"] is None
    await api.complete("town_a", task, {"decision": "accept"})
    r = await api.post("town_a", f"/tasks/{task}/claim")
    assert r.status_code == 409 and r.json()["code"] == "task_not_open"
    kinds = [e["type"] for e in (await api.get("admin", f"/applications/{case['id']}/events")).json()]
    assert kinds.count("task.claimed") == 1 and "task.assigned" in kinds and "task.unclaimed" in kinds


async def test_two_reviewers_race_to_claim(api: Api):
    case = await api.apply()
    task = (await api.open_task(case["id"]))["id"]
    first, second = await collide(
        api.database_url,
        "tasks",
        task,
        "UPDATE tasks",
        api.post("town_a", f"/tasks/{task}/claim"),
        api.post("town_a2", f"/tasks/{task}/claim"),
    )
    assert first.status_code == 200 and first.json()["assignee"] == "town_a", first.text
    assert second.status_code == 409 and second.json() == {
        "type": "https://aidflow.dev/problems/task_claimed",
        "title": "Conflict",
        "status": 409,
        "code": "task_claimed",
        "detail": "someone else holds this task",
    }, second.text
    assert (await api.get("admin", f"/tasks/{task}")).json()["assignee"] == "town_a"
    assert await api.count("events", "type = 'task.claimed'") == 1


async def test_two_reviewers_race_to_complete(api: Api):
    case = await api.apply()
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    task = (await api.open_task(case["id"], "initial_review"))["id"]
    approve, refuse = await collide(
        api.database_url,
        "tasks",
        task,
        "UPDATE tasks",
        api.post("town_a", f"/tasks/{task}/complete", {"data": {"decision": "approve"}}),
        api.post("town_a2", f"/tasks/{task}/complete", {"data": {"decision": "refuse", "reason": "不符合"}}),
    )
    assert approve.status_code == 200, approve.text
    assert refuse.status_code == 409 and refuse.headers["content-type"] == "application/problem+json"
    assert refuse.json()["code"] == "task_not_open", refuse.text
    assert await api.count("tasks", f"id = '{task}' AND state = 'completed' AND completed_by = 'town_a'") == 1
    assert await api.count("events", f"type = 'task.completed' AND task_id = '{task}'") == 1
    # The case followed the winner's decision (approve: to the notice), and only one next step exists.
    app = await api.application(case["id"])
    assert [t["name"] for t in app["open_tasks"]] == []
    assert app["open_tasks"] == approve.json()["application"]["open_tasks"]
    assert await api.count("notice_entries", f"application_id = '{case['id']}'") == 1


async def test_overdue_filter_and_deadline_order(api: Api):
    first = await api.apply()
    await api.step("town_a", first["id"], "accept_application", {"decision": "accept"})
    second = await api.apply()
    items = (await api.get("town_a", "/tasks")).json()["items"]
    assert [t["name"] for t in items] == ["initial_review", "accept_application"]  # deadline first, none last
    assert (await api.get("town_a", "/tasks", overdue="true")).json()["items"] == []
    await api.advance(days=20)  # ten working days are long gone
    late = (await api.get("town_a", "/tasks", overdue="true")).json()["items"]
    assert [t["application_id"] for t in late] == [first["id"]]
    on_time = (await api.get("town_a", "/tasks", overdue="false")).json()["items"]
    assert [t["application_id"] for t in on_time] == [second["id"]]
    r = await api.get("town_a", "/tasks", scope="everything")
    assert r.status_code == 422 and r.json()["code"] == "invalid_scope"
