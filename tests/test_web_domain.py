"""What the web UI added to the domain, over the REST API on both databases: 已办, lock-out."""

from app.domain.people.credentials import MAX_FAILED_LOGINS
from tests.helpers import PASSWORD, Api


async def _token(api: Api, username: str, password: str) -> int:
    r = await api.client.post("/api/v1/auth/token", data={"username": username, "password": password})
    return r.status_code


async def test_done_scope_lists_the_steps_i_decided(api: Api):
    app = await api.apply()
    task = await api.open_task(app["id"], "accept_application")
    await api.complete("town_a", task["id"], {"decision": "accept"})
    done = (await api.get("town_a", "/tasks", scope="done")).json()["items"]
    assert [(t["id"], t["completed_by"], t["state"]) for t in done] == [(task["id"], "town_a", "completed")]
    assert (await api.get("town_a2", "/tasks", scope="done")).json()["items"] == []
    assert (await api.get("town_a", "/tasks", scope="done", sort="-completed_at")).status_code == 200


async def test_started_scope_lists_open_steps_of_cases_i_submitted(api: Api):
    mine = await api.apply("town_a")
    await api.apply()  # the portal's
    started = (await api.get("town_a", "/tasks", scope="started")).json()["items"]
    assert [t["application_id"] for t in started] == [mine["id"]]


async def test_lock_out_counts_consecutive_failures_only(api: Api):
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert await _token(api, "town_a", "wrong-password") == 401
    assert await _token(api, "town_a", PASSWORD) == 200  # a success starts the count again
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert await _token(api, "town_a", "wrong-password") == 401
    assert await _token(api, "town_a", PASSWORD) == 200
    for _ in range(MAX_FAILED_LOGINS):
        assert await _token(api, "town_a", "wrong-password") == 401
    r = await api.client.post("/api/v1/auth/token", data={"username": "town_a", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["code"] == "account_locked"
    assert await _token(api, "town_a", "wrong-password") == 429  # locked: not even checked, not extended
    # Moving the service clock does not lift a lock-out (real time, like tokens).
    await api.advance(days=1)
    assert await _token(api, "town_a", PASSWORD) == 429
    # Unknown users cannot be told apart from wrong passwords, and nothing is stored for them.
    assert await _token(api, "nobody", "wrong-password") == 401
    assert await api.count("users", "username = 'nobody'") == 0
