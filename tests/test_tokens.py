"""Bearer tokens: an expired one, one signed with another secret and one without an expiry are refused."""

import time

import jwt

from tests.helpers import Api

SECRET = "test-secret-" + "x" * 32  # tests/conftest.py make_settings


async def _tasks_with(api: Api, claims: dict, secret: str = SECRET):
    token = jwt.encode(claims, secret, algorithm="HS256")
    return await api.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})


async def test_expired_foreign_and_expiry_less_tokens_are_refused(api: Api):
    now = int(time.time())
    assert (await _tasks_with(api, {"sub": "town_a", "iat": now, "exp": now + 60})).status_code == 200
    for claims, secret in (
        ({"sub": "town_a", "iat": now - 120, "exp": now - 60}, SECRET),
        ({"sub": "town_a", "iat": now, "exp": now + 60}, "another-secret-" + "y" * 32),
        ({"sub": "town_a", "iat": now}, SECRET),
    ):
        r = await _tasks_with(api, claims, secret)
        assert r.status_code == 401, claims
        assert r.json()["code"] == "invalid_token" and r.headers["content-type"] == "application/problem+json"
    # "none" is not an algorithm the service accepts.
    unsigned = jwt.encode({"sub": "admin", "exp": now + 60}, None, algorithm="none")
    r = await api.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {unsigned}"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
