"""Bearer tokens: an expired one, one signed with another secret and one without an expiry are refused;
a token the service issued works until its exp and is refused (401 invalid_token) from then on."""

import asyncio
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


async def test_a_token_the_service_issued_is_refused_once_its_lifetime_is_over(database_url, running_app):
    from tests.conftest import ADMIN_PASSWORD

    # Six seconds: long enough that a busy machine (a login hashes a password) still uses it in time.
    async with running_app(database_url, token_ttl_seconds=6) as client:
        r = await client.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200 and r.json()["expires_in"] == 6, r.text
        token = r.json()["access_token"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["sub"] == "admin" and claims["exp"] - int(claims["iat"]) == 6, claims
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/tasks", headers=headers)).status_code == 200
        await asyncio.sleep(claims["exp"] - time.time() + 1)  # the same token, its exp now past
        r = await client.get("/api/v1/tasks", headers=headers)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["code"] == "invalid_token", r.text
        # A new login gives a working token again: only the lifetime refused the old one.
        r = await client.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
        fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert (await client.get("/api/v1/tasks", headers=fresh)).status_code == 200
