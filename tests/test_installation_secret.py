"""Without AIDFLOW_SECRET_KEY an installation signs with a secret of its own, never a published constant."""

import time

import jwt
import pytest

from app.config import Settings
from tests.conftest import ADMIN_PASSWORD, RunningApp

# The development default every earlier version shipped with: a token signed with it is a forgery.
PUBLISHED_CONSTANT = "aidflow-development-secret-change-me"


async def _token(client) -> str:
    r = await client.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


async def test_replicas_share_a_generated_secret_and_refuse_the_old_constant(database_url):
    async with (
        RunningApp(database_url, secret_key=None) as first,
        RunningApp(database_url, secret_key=None) as second,
    ):
        token = await _token(first)
        for client in (first, second):  # one installation, one secret: any replica accepts the token
            r = await client.get("/api/v1/admin/divisions", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
        now = int(time.time())
        forged = jwt.encode(
            {"sub": "admin", "iat": now, "exp": now + 3600}, PUBLISHED_CONSTANT, algorithm="HS256"
        )
        r = await first.get("/api/v1/admin/divisions", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    async with RunningApp(database_url, secret_key=None) as restarted:  # and it survives a restart
        r = await restarted.get("/api/v1/admin/divisions", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text


def test_production_still_needs_a_configured_secret():
    with pytest.raises(ValueError):
        Settings(env="production", secret_key=None)
    with pytest.raises(ValueError):
        Settings(env="production", secret_key="short")
    assert Settings(env="production", secret_key="p" * 40).secret_key == "p" * 40
