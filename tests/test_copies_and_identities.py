"""抄送 only by the task's holder and only to the program's offices over the case; users and API
keys never mistaken for each other (names, inboxes); kindergarten panels read only where seen."""

import pytest

from tests.helpers import PASSWORD, Api


async def _person(api: Api, username: str, role: str, code: str) -> None:
    r = await api.post("admin", "/admin/users", {"username": username, "password": PASSWORD, "display_name": username,
                                                 "grants": [{"role": role, "division_code": code}]})
    assert r.status_code == 201, r.text
    await api.login(username)


async def test_copies_go_only_to_the_programs_offices_over_the_case_and_only_from_its_holder(api: Api):
    await _person(api, "health", "county_health", "340621")
    case = await api.apply()
    task = await api.open_task(case["id"], "accept_application")
    cc = f"/tasks/{task['id']}/cc"
    for body in ({"usernames": ["other_county"]},  # another county: would read ID number, phone, events
                 {"usernames": ["health"]},  # same county, another department
                 {"usernames": ["town_b"]},  # another township
                 {"roles": ["county_health"]}):
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
