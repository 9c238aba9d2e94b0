"""Changes of authority are audited outside any case: who, when, old and new value, never a secret."""

import pytest

from app.domain import audit
from tests.helpers import Api


async def test_users_and_keys_created_are_in_the_authority_trail(api: Api):
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": "li.na",
            "password": "a-long-password-1",
            "display_name": "李娜",
            "grants": [{"role": "county_education", "division_code": "340621"}],
        },
    )
    assert r.status_code == 201, r.text
    key = (
        await api.post(
            "admin",
            "/admin/api-keys",
            {"name": "school-portal", "grants": [{"role": "portal", "division_code": "340621"}]},
        )
    ).json()["key"]

    trail = (await api.get("admin", "/admin/audit", subject="user:li.na")).json()
    assert [(c["type"], c["actor"], c["old"]) for c in trail] == [("user.created", "admin", None)]
    assert trail[0]["new"] == {
        "display_name": "李娜",
        "grants": [{"role": "county_education", "division_code": "340621"}],
    }
    keys = (await api.get("admin", "/admin/audit", type="api_key.")).json()
    assert {c["subject"] for c in keys} == {"api_key:portal", "api_key:school-portal"}
    everything = (await api.get("admin", "/admin/audit", limit=200)).text
    assert "a-long-password-1" not in everything and key not in everything and "key_hash" not in everything
    # Newest first, paged by id; case events never appear here.
    page = (await api.get("admin", "/admin/audit", limit=2)).json()
    older = (await api.get("admin", "/admin/audit", limit=2, before_id=page[-1]["id"])).json()
    assert page[0]["id"] > page[1]["id"] > older[0]["id"]


async def test_only_admins_read_the_authority_trail(api: Api):
    for who, status in (("county", 403), ("town_a", 403), ("portal", 403), ("stranger", 401)):
        r = await api.get(who, "/admin/audit")
        assert r.status_code == status, (who, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    r = await api.get("admin", "/admin/audit", before_id=2**63)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


@pytest.mark.parametrize("field", sorted(audit.SECRET_FIELDS))
async def test_a_secret_never_enters_the_trail(field):
    with pytest.raises(ValueError):
        await audit.record_change(None, "admin", "user.changed", "user:x", None, {field: "s3cret"})
