"""Outgoing webhooks with a real receiver on loopback: delivery, signatures, retries, scoping, operations."""

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.db.engine import create_engine, transaction
from app.delivery import run_deliveries
from app.domain.people import accounts
from app.domain.tasks import worklist as tasks
from app.domain.webhooks.deliveries import Policy
from app.domain.webhooks.events import SUBSCRIBABLE
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import VILLAGE_A, VILLAGE_B, Api
from tests.receiver import Receiver, closed_port_url


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


async def subscribe(
    api: Api,
    who: str,
    url: str,
    division_code: str = "340621",
    event_types=SUBSCRIBABLE,
    expect: int = 201,
    **extra,
) -> dict:
    r = await api.post(
        who,
        "/webhook-subscriptions",
        {"url": url, "event_types": list(event_types), "division_code": division_code, **extra},
    )
    assert r.status_code == expect, r.text
    return r.json()


async def patch(api: Api, who: str, sub_id: str, body: dict, expect: int = 200) -> dict:
    r = await api.client.patch(f"/api/v1/webhook-subscriptions/{sub_id}", json=body, headers=api.headers[who])
    assert r.status_code == expect, r.text
    return r.json()


async def deliveries(api: Api, sub_id: str, who: str = "portal") -> list[dict]:
    r = await api.get(who, f"/webhook-subscriptions/{sub_id}/deliveries", limit=200)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def run(api: Api) -> dict:
    r = await api.post("admin", "/admin/timers/run")
    assert r.status_code == 200, r.text
    return r.json()


def verify(request: dict, secret: str) -> dict:
    return Webhook(secret).verify(request["body"], request["headers"])


async def test_events_are_delivered_signed_and_carry_no_private_data(api, receiver):
    sub = await subscribe(api, "portal", receiver.url())
    assert sub["secret"].startswith("whsec_")
    app = await api.apply()
    await api.step(
        "town_a", app["id"], "accept_application", {"decision": "accept", "opinion": "材料齐全，收入 1200 元"}
    )
    assert (await run(api))["webhook_attempts"] >= 4

    got = receiver.received("/hook")
    types = [r["json"]["type"] for r in got]
    assert types[:2] == ["application.submitted", "task.created"]
    assert "task.completed" in types
    for request in got:
        event = verify(request, sub["secret"])  # standardwebhooks, the reference implementation
        assert request["headers"]["webhook-id"].startswith("msg_")
        assert event["application_id"] == app["id"] and event["program"] == "dibao"
        assert event["division_code"] == VILLAGE_A and event["id"] and event["time"]
    body = b"".join(r["body"] for r in got).decode()
    applicant = app["applicant"]
    for private in (applicant["name"], applicant["id_number"], applicant["phone"], "1200", "household_size"):
        assert private not in body
    completed = next(r["json"] for r in got if r["json"]["type"] == "task.completed")
    assert completed["data"] == {"decision": "accept"}
    assert completed["task"]["name"] == "accept_application"

    items = await deliveries(api, sub["id"])
    assert {d["status"] for d in items} == {"delivered"}
    assert all(
        d["attempts"] == 1 and d["response_code"] == 200 and d["response_ms"] is not None for d in items
    )
    # Nothing is sent twice: a second round finds nothing due.
    assert (await run(api))["webhook_attempts"] == 0
    assert len(receiver.received()) == len(got)

    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(got[0]["body"], got[0]["headers"])


async def test_subscription_rules(api):
    ok = "https://portal.example.gov.cn/hooks"
    for url, why in [
        ("http://portal.example.gov.cn/hooks", "https"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://100.100.100.200/", "metadata"),
        ("https://[fe80::1]/x", "link-local"),
        ("https://metadata.google.internal/", "metadata"),
        ("https://aidflow.test/api", "this service"),
        ("https://0.0.0.0/", "unicast"),
        ("https://user:pw@portal.example.gov.cn/", "credentials"),
        ("not a url", "no host"),
    ]:
        r = await api.post(
            "portal",
            "/webhook-subscriptions",
            {"url": url, "event_types": ["task.created"], "division_code": "340621"},
        )
        assert r.status_code == 422 and r.json()["code"] == "webhook_url_refused", (url, r.text)
        assert why in r.json()["detail"], (url, r.json()["detail"])
    r = await api.post(
        "portal",
        "/webhook-subscriptions",
        {"url": ok, "event_types": ["task.eaten"], "division_code": "340621"},
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_event_type"
    r = await api.post(
        "town_b",
        "/webhook-subscriptions",
        {"url": ok, "event_types": ["task.created"], "division_code": "340621100"},
    )
    assert r.status_code == 403 and r.json()["code"] == "division_not_covered"
    r = await api.post(
        "portal",
        "/webhook-subscriptions",
        {"url": ok, "event_types": ["task.created"], "division_code": "340621", "secret": "whsec_c2hvcnQ="},
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_webhook_secret"
    assert await api.count("webhook_subscriptions") == 0

    sub = await subscribe(api, "town_a", ok, "340621100", ["task.created"])
    assert (await api.get("town_a", f"/webhook-subscriptions/{sub['id']}")).json().get("secret") is None
    assert [s["id"] for s in (await api.get("county", "/webhook-subscriptions")).json()] == [sub["id"]]
    assert (await api.get("town_b", f"/webhook-subscriptions/{sub['id']}")).status_code == 404
    assert (await api.get("other_county", "/webhook-subscriptions")).json() == []
    r = await api.client.delete(f"/api/v1/webhook-subscriptions/{sub['id']}", headers=api.headers["town_b"])
    assert r.status_code == 404
    await patch(api, "town_a", sub["id"], {"division_code": "340621"}, expect=403)
    changed = await patch(
        api, "town_a", sub["id"], {"event_types": ["task.created", "task.overdue"], "active": False}
    )
    assert changed["event_types"] == ["task.created", "task.overdue"] and changed["active"] is False
    r = await api.client.delete(f"/api/v1/webhook-subscriptions/{sub['id']}", headers=api.headers["town_a"])
    assert r.status_code == 204
    assert await api.count("webhook_subscriptions") == 0


async def test_failing_receiver_is_retried_with_backoff_then_recovers(api, receiver):
    receiver.plan("/flaky", 500, 503)
    sub = await subscribe(api, "portal", receiver.url("/flaky"), event_types=["application.submitted"])
    await api.apply()
    await run(api)
    [first] = await deliveries(api, sub["id"])
    assert first["status"] == "pending" and first["attempts"] == 1 and first["response_code"] == 500
    delay = datetime.fromisoformat(first["next_attempt_at"]) - datetime.fromisoformat(
        first["last_attempt_at"]
    )
    assert timedelta(seconds=15) <= delay <= timedelta(seconds=30)  # base 30 s with jitter
    assert (await run(api))["webhook_attempts"] == 0  # not due yet on the service clock

    await api.advance(seconds=31)
    await run(api)
    [second] = await deliveries(api, sub["id"])
    assert second["attempts"] == 2 and second["response_code"] == 503
    delay = datetime.fromisoformat(second["next_attempt_at"]) - datetime.fromisoformat(
        second["last_attempt_at"]
    )
    assert timedelta(seconds=30) <= delay <= timedelta(seconds=60)  # doubled

    await api.advance(seconds=61)
    await run(api)
    [done] = await deliveries(api, sub["id"])
    assert done["status"] == "delivered" and done["attempts"] == 3 and done["last_error"] is None
    ids = {r["headers"]["webhook-id"] for r in receiver.received("/flaky")}
    assert len(receiver.received("/flaky")) == 3 and ids == {done["id"]}  # one stable id for every attempt


async def test_receiver_that_times_out_is_retried(database_url, running_app, receiver):
    async with running_app(database_url, webhook_timeout_seconds=0.5) as client:
        api = Api(client, database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        receiver.plan("/slow", "hang")
        sub = await subscribe(api, "portal", receiver.url("/slow"), event_types=["application.submitted"])
        await api.apply()
        await run(api)
        [item] = await deliveries(api, sub["id"])
        assert (
            item["status"] == "pending"
            and "timed out" in item["last_error"]
            and item["response_code"] is None
        )
        receiver.release()
        await api.advance(seconds=31)
        await run(api)
        [item] = await deliveries(api, sub["id"])
        assert item["status"] == "delivered" and item["attempts"] == 2


async def test_receiver_down_for_good_dead_letters_and_disables(api):
    sub = await subscribe(
        api, "portal", closed_port_url(), event_types=["application.submitted", "task.created"]
    )
    await api.apply()
    for _ in range(4 * 6):  # four days in six-hour steps: past the 3-day maximum age
        await api.advance(seconds=6 * 3600)
        await run(api)
    items = await deliveries(api, sub["id"])
    assert {d["status"] for d in items} == {"dead"}
    # The case's first event was tried again and again; its second waited behind it (order per case).
    submitted = next(d for d in items if d["event_type"] == "application.submitted")
    assert submitted["attempts"] >= 5 and "ConnectError" in submitted["last_error"]
    assert (await api.get("portal", f"/webhook-subscriptions/{sub['id']}")).json()["active"] is True

    await api.apply()  # keeps failing until five days have passed since the first failure
    for _ in range(2 * 6):
        await api.advance(seconds=6 * 3600)
        await run(api)
    state = (await api.get("portal", f"/webhook-subscriptions/{sub['id']}")).json()
    assert state["active"] is False and "every delivery failed since" in state["disabled_reason"]
    assert await api.count("events", "type = 'webhook.subscription_disabled'") == 1
    before = len(await deliveries(api, sub["id"]))
    await api.apply()
    await run(api)
    assert len(await deliveries(api, sub["id"])) == before  # a disabled subscription gets nothing new

    again = await patch(api, "portal", sub["id"], {"active": True})
    assert again["active"] is True and again["disabled_reason"] is None and again["failing_since"] is None


async def test_redelivery_and_ping_keep_the_delivery_id(api, receiver):
    sub = await subscribe(api, "portal", receiver.url(), event_types=["application.submitted"])
    r = await api.post("portal", f"/webhook-subscriptions/{sub['id']}/ping")
    assert r.status_code == 202, r.text
    ping = r.json()
    await run(api)
    [request] = receiver.received()
    assert verify(request, sub["secret"])["type"] == "webhook.ping"
    assert request["headers"]["webhook-id"] == ping["id"]

    r = await api.post("portal", f"/webhook-subscriptions/{sub['id']}/deliveries/{ping['id']}/redeliver")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    await run(api)
    first, second = receiver.received()
    assert (
        first["headers"]["webhook-id"] == second["headers"]["webhook-id"] and first["body"] == second["body"]
    )
    [item] = await deliveries(api, sub["id"])
    assert item["status"] == "delivered" and item["attempts"] == 2
    r = await api.post("portal", f"/webhook-subscriptions/{sub['id']}/deliveries/msg_nope/redeliver")
    assert r.status_code == 404 and r.json()["code"] == "delivery_not_found"
    r = await api.post("county", f"/webhook-subscriptions/{sub['id']}/deliveries/{ping['id']}/redeliver")
    assert (
        r.status_code == 403 and r.json()["code"] == "not_subscription_owner"
    )  # the portal's, not the county's
    r = await api.post("other_county", f"/webhook-subscriptions/{sub['id']}/ping")
    assert r.status_code == 404


async def test_events_of_one_case_arrive_in_order(api, receiver):
    receiver.plan("/hook", 500)  # the first request fails: case A's first event
    await subscribe(api, "portal", receiver.url())
    a = await api.apply()
    await api.step("town_a", a["id"], "accept_application", {"decision": "accept"})
    await run(api)
    assert [e["type"] for e in receiver.events()] == ["application.submitted"]

    b = await api.apply(division_code=VILLAGE_B)
    await run(api)
    seen = receiver.events()
    assert {e["application_id"] for e in seen[1:]} == {b["id"]}  # A waits behind its failed first event
    assert [e["type"] for e in seen[1:]] == ["application.submitted", "task.created"]

    await api.advance(seconds=31)
    await run(api)
    of_a = [e["type"] for e in receiver.events() if e["application_id"] == a["id"]]
    assert of_a == [
        "application.submitted",
        "application.submitted",
        "task.created",
        "task.completed",
        "task.created",
    ]


async def test_rolled_back_change_produces_no_event(api, receiver):
    await subscribe(api, "portal", receiver.url())
    app = await api.apply()
    await run(api)
    sent, queued = len(receiver.received()), await api.count("outbox")
    task = await api.open_task(app["id"])
    db = create_engine(api.database_url)
    try:
        with pytest.raises(RuntimeError):
            async with transaction(db) as conn:
                me = await accounts.principal_for_user(conn, "town_a")
                await tasks.claim(conn, me, task["id"])
                assert (await conn.execute(sa.text("SELECT count(*) FROM outbox"))).scalar() == queued + 1
                raise RuntimeError("the request failed after the change")
    finally:
        await db.dispose()
    r = await api.post("town_b", f"/tasks/{task['id']}/claim")  # refused: nothing recorded either
    assert r.status_code == 404 and r.json()["code"] == "task_not_found"
    assert await api.count("outbox") == queued
    await run(api)
    assert len(receiver.received()) == sent


async def test_two_workers_share_the_outbox_without_double_sends(api, receiver):
    sub = await subscribe(api, "portal", receiver.url())
    for _ in range(6):
        await api.apply()
    expected = 12  # each case: application.submitted and task.created (accept_application)
    assert await api.count("outbox", "event_type IN ('application.submitted', 'task.created')") == expected
    policy = Policy(batch_size=2, test_mode=True)
    one, two = create_engine(api.database_url), create_engine(api.database_url)
    try:
        counts = await asyncio.gather(
            run_deliveries(one, policy),
            run_deliveries(two, policy),
            run_deliveries(one, policy),
            run_deliveries(two, policy),
        )
    finally:
        await one.dispose()
        await two.dispose()
    ids = [r["headers"]["webhook-id"] for r in receiver.received()]
    assert len(ids) == len(set(ids)) == sum(counts) == expected, (len(ids), len(set(ids)), counts)
    assert {d["status"] for d in await deliveries(api, sub["id"])} == {"delivered"}


async def test_a_township_never_receives_another_townships_events(api, receiver):
    town_a = await subscribe(api, "town_a", receiver.url("/a"), "340621100")
    town_b = await subscribe(api, "town_b", receiver.url("/b"), "340621101")
    county = await subscribe(api, "county", receiver.url("/county"), "340621")
    other = await subscribe(api, "other_county", receiver.url("/other"), "340622")
    in_a, in_b = await api.apply(), await api.apply(division_code=VILLAGE_B)
    await run(api)
    assert {e["application_id"] for e in receiver.events("/a")} == {in_a["id"]}
    assert {e["application_id"] for e in receiver.events("/b")} == {in_b["id"]}
    assert {e["application_id"] for e in receiver.events("/county")} == {in_a["id"], in_b["id"]}
    assert receiver.events("/other") == []
    for sub, path in ((town_a, "/a"), (town_b, "/b"), (county, "/county")):
        assert all(verify(r, sub["secret"]) for r in receiver.received(path))
    assert other["division_code"] == "340622" and other["active"] is True  # subscribed, yet sent nothing


async def test_secret_rotation_signs_with_both_during_the_overlap(api, receiver):
    old = await subscribe(api, "portal", receiver.url(), event_types=["task.created"])
    rotated = await patch(api, "portal", old["id"], {"rotate_secret": True})
    assert rotated["secret"] != old["secret"] and rotated["previous_secret_valid_until"]
    await api.post("portal", f"/webhook-subscriptions/{old['id']}/ping")
    await run(api)
    [during] = receiver.received()
    assert len(during["headers"]["webhook-signature"].split(" ")) == 2
    verify(during, old["secret"])
    verify(during, rotated["secret"])

    await api.advance(seconds=86401)
    await api.post("portal", f"/webhook-subscriptions/{old['id']}/ping")
    await run(api)
    after = receiver.received()[1]
    verify(after, rotated["secret"])
    with pytest.raises(WebhookVerificationError):
        verify(after, old["secret"])
    chosen = "whsec_" + "QUJD" * 8
    assert (await patch(api, "portal", old["id"], {"secret": chosen}))["secret"] == chosen


async def test_gone_receiver_disables_at_once_and_metrics_and_openapi(api, receiver):
    receiver.plan("/gone", 410)
    sub = await subscribe(api, "portal", receiver.url("/gone"), event_types=["application.submitted"])
    await api.apply()
    await run(api)
    state = (await api.get("portal", f"/webhook-subscriptions/{sub['id']}")).json()
    assert state["active"] is False and "410" in state["disabled_reason"]

    metrics = (await api.client.get("/metrics/")).text
    for name in (
        "aidflow_webhook_queue_depth",
        "aidflow_webhook_delivery_seconds_bucket",
        "aidflow_webhook_failures_total",
    ):
        assert name in metrics
    spec = (await api.client.get("/openapi.json")).json()
    assert set(SUBSCRIBABLE) <= set(spec["webhooks"])
    schema = spec["components"]["schemas"]["TaskCompletedData"]
    assert schema["additionalProperties"] is False and set(schema["properties"]) == {"decision"}
    body = spec["webhooks"]["application.approved"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert body == {"$ref": "#/components/schemas/ApplicationApprovedEvent"}


async def test_definition_deployed_reaches_every_level_and_nothing_before_subscribing(api, receiver):
    sub = await subscribe(api, "town_a", receiver.url(), "340621100", ["definition.deployed"])
    bpmn = (Path(__file__).parent / "bpmn" / "escalation_demo.bpmn").read_bytes()
    deployed = await api.upload(bpmn, "escalation_demo.bpmn")
    await run(api)
    [event] = [verify(r, sub["secret"]) for r in receiver.received()]  # dibao's start-up deployment is older
    assert event["type"] == "definition.deployed" and event["application_id"] is None
    assert event["data"] == {"key": deployed["key"], "version": deployed["version"], "name": deployed["name"]}


async def test_the_readme_receiver_verifies_a_real_request(api, receiver):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    snippet = readme.split("## Webhooks and inbound events", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(snippet, namespace)  # the README's own code, as a portal would paste it
    sub = await subscribe(api, "portal", receiver.url(), event_types=["application.submitted"])
    await api.apply()
    await run(api)
    [request] = receiver.received()
    assert namespace["verify"](sub["secret"], request["headers"], request["body"]) is True
    assert namespace["verify"](sub["secret"], request["headers"], request["body"] + b" ") is False


def test_outcome_events_are_published_once_per_change():
    from app.domain.audit import Recorder

    rec = Recorder("tester")
    rec.add("application.status_changed", "app-1", {"from": "in_progress", "to": "withdrawn"}, None, "/34/")
    rec.add("application.withdrawn", "app-1", {"reason": "申请人撤回", "id_number": "secret"}, None, "/34/")
    rec.add(
        "task.completed", "app-1", {"decision": "approve", "opinion": "收入 900 元"}, {"id": "t", "name": "s"}
    )
    published = [(o["event_type"], o["payload"]["data"]) for o in rec._outbox]
    assert published == [
        ("application.status_changed", {"from": "in_progress", "to": "withdrawn"}),
        ("application.withdrawn", {"status": "withdrawn"}),
        ("task.completed", {"decision": "approve"}),
    ]
