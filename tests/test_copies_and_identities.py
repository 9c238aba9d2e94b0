"""抄送 only by the task's holder and only to the program's offices over the case; users and API
keys never mistaken for each other (names, inboxes); kindergarten panels read only where seen."""

import sqlalchemy as sa

from app.db.engine import create_engine
from tests.helpers import PASSWORD, Api
from tests.test_xueqian import KINDERGARTEN, PANEL, STAFF


async def _person(api: Api, username: str, role: str, code: str) -> None:
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": username,
            "password": PASSWORD,
            "display_name": username,
            "grants": [{"role": role, "division_code": code}],
        },
    )
    assert r.status_code == 201, r.text
    await api.login(username)


async def test_copies_go_only_to_the_programs_offices_over_the_case_and_only_from_its_holder(api: Api):
    await _person(api, "health", "county_health", "340621")
    case = await api.apply()
    task = await api.open_task(case["id"], "accept_application")
    cc = f"/tasks/{task['id']}/cc"
    for body in (
        {"usernames": ["other_county"]},  # another county: would read ID number, phone, events
        {"usernames": ["health"]},  # same county, another department
        {"usernames": ["town_b"]},  # another township
        {"roles": ["county_health"]},
    ):
        r = await api.post("town_a", cc, {**body, "note": "请知悉"})
        assert r.status_code == 422 and r.json()["code"] == "cannot_receive_copy", (body, r.text)
    assert await api.count("case_copies") == 0
    assert (await api.get("other_county", f"/applications/{case['id']}")).status_code == 404
    assert (await api.get("other_county", "/tasks", scope="cc")).json()["items"] == []

    # Someone who sees the case but does not hold the step may not copy it.
    r = await api.post("county", cc, {"usernames": ["county"]})
    assert r.status_code == 403 and r.json()["code"] == "not_your_role"
    assert (await api.post("town_a", f"/tasks/{task['id']}/claim")).status_code == 200
    r = await api.post("town_a2", cc, {"usernames": ["county"]})
    assert r.status_code == 409 and r.json()["code"] == "task_claimed"
    assert await api.count("case_copies") == 0

    r = await api.post("town_a", cc, {"usernames": ["county"], "roles": ["county_civil_affairs"]})
    assert r.status_code == 200, r.text
    assert await api.count("case_copies") == 2


async def test_users_and_api_keys_never_share_a_name(api: Api):
    r = await api.post(
        "admin",
        "/admin/api-keys",
        {"name": "town_a", "grants": [{"role": "portal", "division_code": "340621"}]},
    )
    assert r.status_code == 409 and r.json()["code"] == "api_key_name_taken", r.text
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": "portal",
            "password": PASSWORD,
            "display_name": "门户",
            "grants": [{"role": "county_civil_affairs", "division_code": "340621"}],
        },
    )
    assert r.status_code == 409 and r.json()["code"] == "username_taken", r.text
    assert (
        await api.count("api_keys", "name = 'town_a'") == 0
        and await api.count("users", "username = 'portal'") == 0
    )


async def test_a_key_named_like_a_user_sees_and_takes_nothing_of_his(api: Api):
    """Data from before names were kept apart: an API key renamed in the database to a user's name."""
    r = await api.post(
        "admin",
        "/admin/api-keys",
        {"name": "sync_key", "grants": [{"role": "township_civil_affairs", "division_code": "340621100"}]},
    )
    assert r.status_code == 201, r.text
    key = {"X-API-Key": r.json()["key"]}
    first, second = await api.apply(), await api.apply()
    await api.step("town_a", first["id"], "accept_application", {"decision": "accept"})  # 已办
    review = await api.open_task(first["id"], "initial_review")
    assert (await api.post("town_a2", f"/tasks/{review['id']}/claim")).status_code == 200
    r = await api.post("town_a2", f"/tasks/{review['id']}/cc", {"usernames": ["town_a"]})  # 抄送我的
    assert [p["text"] for p in r.json()["usernames_display"]] == ["town_a（濉溪镇民政）"], r.text
    assert r.status_code == 200, r.text
    held = await api.open_task(second["id"], "accept_application")
    assert (await api.post("town_a", f"/tasks/{held['id']}/claim")).status_code == 200  # 我的待办
    counts = (await api.get("town_a", "/tasks/counts")).json()
    assert (counts["mine"], counts["done"], counts["cc"]) == (1, 1, 1)

    db = create_engine(api.database_url)
    async with db.begin() as conn:
        await conn.execute(sa.text("UPDATE api_keys SET name = 'town_a' WHERE name = 'sync_key'"))
    await db.dispose()

    api.headers["key_town_a"] = key
    for scope in ("mine", "done", "cc"):
        r = await api.get("key_town_a", "/tasks", scope=scope)
        assert r.status_code == 200 and r.json()["items"] == [], (scope, r.text)
    counts = (await api.get("key_town_a", "/tasks/counts")).json()
    assert (counts["mine"], counts["done"], counts["cc"]) == (0, 0, 0)
    assert (
        await api.get("key_town_a", f"/applications/{first['id']}")
    ).status_code == 200  # its grant, not his copy
    r = await api.post("key_town_a", f"/tasks/{held['id']}/complete", {"data": {"decision": "accept"}})
    assert r.status_code == 409 and r.json()["code"] == "task_claimed"
    r = await api.post("key_town_a", f"/tasks/{held['id']}/unclaim")
    assert r.status_code == 409 and r.json()["code"] == "task_claimed", (
        r.text
    )  # held by a person: not the key's to release
    done = (await api.get("town_a", "/tasks", scope="done")).json()["items"][0]
    r = await api.post("key_town_a", f"/tasks/{done['id']}/withdraw")
    assert r.status_code == 409 and r.json()["code"] == "not_withdrawable"
    r = await api.post("key_town_a", f"/tasks/{review['id']}/claim")
    assert r.status_code == 403 and r.json()["code"] == "not_a_person"
    assert (await api.get("town_a", "/tasks", scope="mine")).json()["items"][0]["id"] == held["id"]


async def test_a_panel_is_read_only_where_its_kindergarten_is_seen(api: Api):
    assert (await api.put("admin", "/admin/divisions", [KINDERGARTEN])).status_code == 200
    head, (role, code) = "head", STAFF["head"]
    await _person(api, head, role, code)
    assert (
        await api.put("head", f"/panels/{KINDERGARTEN['code']}/2027", {"members": PANEL})
    ).status_code == 200
    path = f"/panels/{KINDERGARTEN['code']}/2027"
    for who in ("head", "county", "town_a"):  # the kindergarten, and offices over it
        r = await api.get(who, path)
        assert r.status_code == 200 and "黄家长" in r.text, (who, r.text)
    for who in ("other_county", "town_b"):  # another county, another township: parents' names stay there
        r = await api.get(who, path)
        assert r.status_code == 404 and "家长" not in r.text, (who, r.text)
    assert (await api.client.get("/api/v1" + path)).status_code == 401
