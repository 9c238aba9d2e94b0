"""People, not logins: names and offices wherever a person appears, and the people a holder may
choose for 转办, 委派, 加签 and 抄送 (``GET /tasks/{id}/candidates``)."""

import pytest
import sqlalchemy as sa

from app.domain.people.directory import Person
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD, Api

APPROVE = {"decision": "approve", "opinion": "情况属实"}
# login → (name, role, place): two more officers of 濉溪镇, a county health officer, and a stranger.
NAMED = {
    "zhang.wei": ("张伟", "township_civil_affairs", "340621100"),
    "li.na": ("李娜", "township_civil_affairs", "340621100"),
    "chen.jing": ("陈静", "county_health", "340621"),
    "stranger": ("路人", None, None),
}


@pytest.fixture
async def office(api: Api) -> Api:
    for login, (name, role, code) in NAMED.items():
        grants = [{"role": role, "division_code": code}] if role else []
        r = await api.post(
            "admin",
            "/admin/users",
            {"username": login, "password": PASSWORD, "display_name": name, "grants": grants},
        )
        assert r.status_code == 201, r.text
        await api.login(login)
    return api


def _problem(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code, r.text


async def _candidates(api: Api, who: str, task_id: str, action: str) -> list[str]:
    r = await api.get(who, f"/tasks/{task_id}/candidates", action=action)
    assert r.status_code == 200, r.text
    return [c["username"] for c in r.json()]


async def test_events_record_and_task_show_names_and_offices(office: Api):
    api = office
    case = await api.apply()
    task = await api.open_task(case["id"], "accept_application")
    assert (await api.post("zhang.wei", f"/tasks/{task['id']}/claim")).status_code == 200
    detail = (await api.get("li.na", f"/tasks/{task['id']}")).json()
    assert detail["assignee"] == "zhang.wei"
    assert detail["assignee_display"] == {
        "name": "张伟",
        "role": "township_civil_affairs",
        "role_label": "乡镇（街道）民政",
        "department": "民政",
        "division_code": "340621100",
        "place": "濉溪镇",
        "text": "张伟（濉溪镇民政）",
    }
    assert detail["completed_by_display"] is None and detail["delegated_to_display"] is None
    await api.complete("zhang.wei", task["id"], {"decision": "accept"})
    await api.step("town_a", case["id"], "initial_review", APPROVE)  # opens the notice: a timer starts

    events = (await api.get("county", f"/applications/{case['id']}/events")).json()
    by_type = {e["type"]: e for e in events}
    assert by_type["application.submitted"]["actor"] == "portal"
    assert by_type["application.submitted"]["actor_display"]["text"] == "对接平台（濉溪县）"
    completed = [e for e in events if e["type"] == "task.completed"]
    assert completed[0]["actor_display"]["text"] == "张伟（濉溪镇民政）"
    # The service's own bookkeeping is in the API history, marked, and left out on request.
    assert by_type["timer.scheduled"]["internal"] is True
    assert by_type["task.completed"]["internal"] is False
    reviewer = (await api.get("county", f"/applications/{case['id']}/events", internal="false")).json()
    assert {e["type"] for e in reviewer} == {e["type"] for e in events if not e["internal"]}
    assert "timer.scheduled" not in {e["type"] for e in reviewer}
    assert len(reviewer) < len(events)

    record = (await api.get("county", f"/applications/{case['id']}/record")).json()
    assert [(r["handler_name"], r["handler_display"]["text"]) for r in record] == [
        ("张伟", "张伟（濉溪镇民政）"),
        ("town_a", "town_a（濉溪镇民政）"),
    ]


async def test_only_the_holder_asks_who_may_receive_a_task(office: Api):
    api = office
    case = await api.apply()
    task = await api.open_task(case["id"], "accept_application")
    path = f"/tasks/{task['id']}/candidates"
    _problem(await api.get("town_b", path, action="transfer"), 404, "task_not_found")  # other place
    _problem(await api.get("other_county", path, action="transfer"), 404, "task_not_found")
    _problem(await api.get("chen.jing", path, action="transfer"), 403, "not_your_role")  # other department
    _problem(await api.get("portal", path, action="transfer"), 403, "not_a_person")  # a portal key
    _problem(await api.get("stranger", path, action="transfer"), 404, "task_not_found")  # no grant
    _problem(await api.get("nobody", path, action="transfer"), 401, "not_authenticated")
    _problem(await api.get("zhang.wei", path, action="promote"), 422, "validation_error")
    assert (await api.post("zhang.wei", f"/tasks/{task['id']}/claim")).status_code == 200
    _problem(await api.get("li.na", path, action="transfer"), 409, "task_claimed")  # not the holder
    assert await _candidates(api, "zhang.wei", task["id"], "transfer")


async def test_candidates_are_whoever_the_action_accepts(office: Api):
    api = office
    case = await api.apply()
    task = await api.open_task(case["id"], "accept_application")
    assert (await api.post("zhang.wei", f"/tasks/{task['id']}/claim")).status_code == 200
    r = await api.get("zhang.wei", f"/tasks/{task['id']}/candidates", action="delegate")
    people = {c["username"]: c for c in r.json()}
    assert people["chen.jing"] == {
        "username": "chen.jing",
        "name": "陈静",
        "role": "county_health",
        "role_label": "县级卫健",
        "department": "卫健",
        "division_code": "340621",
        "place": "濉溪县",
    }
    # 委派 and 加签: any office here or above; nearest place first, then by department and name.
    assert list(people) == ["town_a", "town_a2", "li.na", "county", "chen.jing"]
    assert await _candidates(api, "zhang.wei", task["id"], "add_signer") == list(people)
    # 转办: the same role; 抄送: a role of the program (no health office), at the case's place or above.
    transfer = await _candidates(api, "zhang.wei", task["id"], "transfer")
    assert transfer == ["town_a", "town_a2", "li.na"]
    assert await _candidates(api, "zhang.wei", task["id"], "copy") == ["town_a", "town_a2", "li.na", "county"]
    # Those left out are refused by the actions themselves.
    for login in ("county", "town_b", "chen.jing"):
        r = await api.post("zhang.wei", f"/tasks/{task['id']}/transfer", {"username": login, "reason": "x"})
        _problem(r, 422, "cannot_take_task")
    _problem(
        await api.post("zhang.wei", f"/tasks/{task['id']}/cc", {"usernames": ["chen.jing"]}),
        422,
        "cannot_receive_copy",
    )
    for action, body in (
        ("delegate", {"username": "other_county"}),
        ("signers", {"usernames": ["town_b"], "position": "before"}),
    ):
        r = await api.post("zhang.wei", f"/tasks/{task['id']}/{action}", body)
        assert r.status_code == 422, r.text
    # Once a signer, not offered again as one.
    r = await api.post(
        "zhang.wei", f"/tasks/{task['id']}/signers", {"usernames": ["li.na"], "position": "before"}
    )
    assert r.status_code == 200, r.text
    [signer] = r.json()["signers"]
    assert (signer["username"], signer["username_display"]["text"]) == ("li.na", "李娜（濉溪镇民政）")
    assert "li.na" not in await _candidates(api, "zhang.wei", task["id"], "add_signer")


async def test_candidates_leave_out_relatives_and_the_second_pair_of_eyes(office: Api):
    api = office
    data = {"household_size": 2, "staff_relative": True, "related_staff": "li.na"}
    case = await api.apply(data=data)
    task = await api.open_task(case["id"], "accept_application")
    assert (await api.post("zhang.wei", f"/tasks/{task['id']}/claim")).status_code == 200
    for action in ("transfer", "delegate", "add_signer"):
        assert "li.na" not in await _candidates(api, "zhang.wei", task["id"], action)
    r = await api.post("zhang.wei", f"/tasks/{task['id']}/transfer", {"username": "li.na", "reason": "x"})
    _problem(r, 403, "related_staff")

    # Four eyes: whoever made the initial review may not re-investigate after an objection.
    case = await api.apply()
    await api.to_notice(case["id"])  # town_a accepts and reviews
    await api.message("objection", case["id"], {"reason": "有经营收入"})
    again = await api.open_task(case["id"], "reinvestigate")
    assert (await api.post("zhang.wei", f"/tasks/{again['id']}/claim")).status_code == 200
    for action in ("transfer", "delegate", "add_signer"):
        offered = await _candidates(api, "zhang.wei", again["id"], action)
        assert "town_a" not in offered and "town_a2" in offered, (action, offered)
    r = await api.post("zhang.wei", f"/tasks/{again['id']}/transfer", {"username": "town_a", "reason": "x"})
    _problem(r, 403, "four_eyes")
    assert (
        await api.post("zhang.wei", f"/tasks/{again['id']}/transfer", {"username": "town_a2", "reason": "x"})
    ).status_code == 200


def test_a_person_reads_as_name_and_office():
    assert Person("zhang.wei", "user", "张伟", "township_civil_affairs", "340621100", "濉溪镇").text == (
        "张伟（濉溪镇民政）"
    )
    assert (
        Person("wang.fang", "user", "王芳", "county_health", "340621", "濉溪县").text == "王芳（濉溪县卫健）"
    )
    assert Person("admin", "user", "系统管理员", "admin").text == "系统管理员"
    assert Person("zhao.liu", "user", "赵六", "admin").text == "赵六（系统管理员）"
    assert (
        Person("demo-portal", "api_key", "对接平台", "portal", "340621", "濉溪县").text
        == "对接平台（濉溪县）"
    )
    assert Person("nobody", "user", "无授权").text == "无授权"


async def test_the_people_of_a_timeline_are_read_in_one_query(database_url, running_app):
    """More people on a case's timeline cost no more statements: one read for all of them."""
    service = running_app(database_url)
    async with service as client:
        api = Api(client, database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        statements: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        engine = service.app.state.db.sync_engine
        sa.event.listen(engine, "before_cursor_execute", count)

        async def reading_events(case_id: str) -> tuple[int, set[str]]:
            statements.clear()
            events = (await api.get("county", f"/applications/{case_id}/events")).json()
            return len(statements), {e["actor"] for e in events}

        case = await api.apply()
        few, actors = await reading_events(case["id"])
        task = await api.open_task(case["id"], "accept_application")
        # More people on the timeline: a colleague claims and lets go, the county urges.
        assert (await api.post("town_a2", f"/tasks/{task['id']}/claim")).status_code == 200
        assert (await api.post("town_a2", f"/tasks/{task['id']}/unclaim")).status_code == 200
        assert (await api.post("county", f"/tasks/{task['id']}/urge", {"note": "请尽快"})).status_code == 200
        await api.complete("town_a", task["id"], {"decision": "accept"})
        many, more_actors = await reading_events(case["id"])
        assert len(more_actors) == len(actors) + 3
        assert many == few
        sa.event.remove(engine, "before_cursor_execute", count)
