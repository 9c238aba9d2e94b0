"""A webhook subscription belongs to the principal that created it (and admins); changes are audited."""

import json

from tests.helpers import PASSWORD, Api
from tests.test_webhooks import patch, subscribe

URL = "https://portal.example/hooks/aidflow"


async def test_only_the_owner_or_an_admin_changes_a_subscription_and_every_change_is_audited(api: Api):
    r = await api.post(
        "admin",
        "/admin/api-keys",
        {"name": "portal2", "grants": [{"role": "portal", "division_code": "340621"}]},
    )  # another portal of the same county
    assert r.status_code == 201, r.text
    api.headers["portal2"] = {"X-API-Key": r.json()["key"]}
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": "edu",
            "password": PASSWORD,
            "display_name": "教育局",
            "grants": [{"role": "county_education", "division_code": "340621"}],
        },
    )
    assert r.status_code == 201, r.text
    await api.login("edu")
    sub = await subscribe(api, "portal", URL, "340621", ["task.created"])
    assert sub["created_by"] == "portal" and sub["created_by_kind"] == "api_key"
    path = f"/api/v1/webhook-subscriptions/{sub['id']}"

    for who, body in (
        ("portal2", {"url": "https://evil.example/steal"}),
        ("portal2", {"rotate_secret": True}),
        ("edu", {"active": False}),
        ("county", {"event_types": ["task.overdue"]}),
    ):
        r = await api.client.patch(path, json=body, headers=api.headers[who])
        assert r.status_code == 403 and r.json()["code"] == "not_subscription_owner", (who, body, r.text)
    for who in ("portal2", "edu"):
        assert (await api.client.delete(path, headers=api.headers[who])).status_code == 403
        assert (await api.post(who, f"/webhook-subscriptions/{sub['id']}/ping")).status_code == 403
    unchanged = (await api.get("portal", f"/webhook-subscriptions/{sub['id']}")).json()
    assert (unchanged["url"], unchanged["active"], unchanged["previous_secret_valid_until"]) == (
        URL,
        True,
        None,
    )
    assert await api.count("webhook_deliveries") == 0
    # Others of the county may still read it (no secret), not change it.
    assert (await api.get("portal2", f"/webhook-subscriptions/{sub['id']}")).status_code == 200

    await patch(api, "portal", sub["id"], {"url": URL + "/v2"})
    rotated = await patch(api, "portal", sub["id"], {"rotate_secret": True})
    await patch(api, "portal", sub["id"], {"active": False})
    await patch(api, "admin", sub["id"], {"active": True})  # admins may
    assert (await api.client.delete(path, headers=api.headers["portal"])).status_code == 204

    trail = (await api.get("admin", "/admin/audit", subject=f"webhook_subscription:{sub['id']}")).json()
    assert [(e["type"], e["actor"]) for e in reversed(trail)] == [
        ("webhook_subscription.created", "portal"),
        ("webhook_subscription.updated", "portal"),
        ("webhook_subscription.secret_rotated", "portal"),
        ("webhook_subscription.disabled", "portal"),
        ("webhook_subscription.enabled", "admin"),
        ("webhook_subscription.deleted", "portal"),
    ]
    updated = trail[-2]
    assert updated["old"] == {"url": URL} and updated["new"] == {"url": URL + "/v2"}
    text = json.dumps(trail)
    assert sub["secret"] not in text and rotated["secret"] not in text and "whsec_" not in text
