"""What replicas must share lives in the database, not in one process's memory (several app
instances on one database stand for several replicas here; tests/test_replicas.py runs processes)."""

import asyncio
from datetime import timedelta

from tests.conftest import ADMIN_PASSWORD, RunningApp
from tests.helpers import Api
from tests.receiver import Receiver
from tests.test_webhooks import subscribe

OBJECT = "/api/v1/public/notices/none/objections"
BODY = {"entry_id": "x", "reason": "理由写满五个字"}


async def test_the_objection_rate_limit_counts_across_replicas_and_ignores_the_test_clock(database_url):
    async with (
        RunningApp(database_url, objection_rate_limit="4/hour") as one,
        RunningApp(database_url, objection_rate_limit="4/hour") as two,
    ):
        answers = [(await client.post(OBJECT, json=BODY)).status_code for client in (one, two, one, two)]
        assert (
            answers == [404] * 4
        )  # counted before the notice is looked up: a failing request spends its hit
        refused = await two.post(OBJECT, json=BODY)
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert 0 < int(refused.headers["retry-after"]) <= 3600
        # The allowance is wall-clock time: moving the service's test clock cannot buy a new one.
        admin = Api(one, database_url)
        await admin.login("admin", ADMIN_PASSWORD)
        await admin.advance(days=2)
        assert (await one.post(OBJECT, json=BODY)).status_code == 429


async def test_concurrent_objections_through_two_replicas_get_exactly_the_allowance(database_url):
    async with (
        RunningApp(database_url, objection_rate_limit="10/hour") as one,
        RunningApp(database_url, objection_rate_limit="10/hour") as two,
    ):
        answers = await asyncio.gather(*(client.post(OBJECT, json=BODY) for client in (one, two) * 10))
        codes = sorted(r.status_code for r in answers)
        assert codes == [404] * 10 + [429] * 10


async def test_a_year_loaded_through_one_replica_counts_at_once_on_another(database_url):
    async with RunningApp(database_url) as one, RunningApp(database_url) as two:
        first, second = Api(one, database_url), Api(two, database_url)
        await first.login("admin", ADMIN_PASSWORD)
        await second.login("admin", ADMIN_PASSWORD)

        async def next_working_day() -> str:  # from Wednesday 2031-10-01, asked of the second replica
            r = await second.get("admin", "/calendar/working-days", **{"from": "2031-10-01", "add": 1})
            assert r.status_code == 200, r.text
            return r.json()["date"]

        await first.load_year(2031)
        assert await next_working_day() == "2031-10-02"  # the second replica now holds 2031 as plain weeks
        await first.load_year(2031, holidays=["2031-10-02", "2031-10-03"])
        assert await next_working_day() == "2031-10-06"


async def test_a_delivery_in_flight_is_not_sent_twice_when_the_test_clock_moves(api: Api, running_app):
    with Receiver() as receiver:
        receiver.plan("/slow", "hang")
        await subscribe(api, "portal", receiver.url("/slow"), event_types=["application.submitted"])
        await api.apply()
        async with running_app(api.database_url, webhook_timeout_seconds=20) as other:
            first = Api(other, api.database_url)
            await first.login("admin", ADMIN_PASSWORD)
            sending = asyncio.create_task(
                first.post("admin", "/admin/timers/run")
            )  # a worker whose send hangs
            for _ in range(200):
                if receiver.received("/slow"):
                    break
                await asyncio.sleep(0.05)
            assert len(receiver.received("/slow")) == 1
            await api.advance(days=1)  # far beyond the lease, on the test clock only
            assert (await api.post("admin", "/admin/timers/run")).status_code == 200  # a second worker
            assert len(receiver.received("/slow")) == 1
            receiver.release()
            assert (await sending).status_code == 200
    assert len(receiver.received("/slow")) == 1
    assert await api.count("webhook_deliveries", "status = 'delivered'") == 1


async def test_replicas_starting_together_deploy_the_shipped_processes_once(database_url):
    first, second = RunningApp(database_url), RunningApp(database_url)
    await asyncio.gather(first.__aenter__(), second.__aenter__())
    try:
        versions = await Api(first.client, database_url).count("process_definitions")
        keys = await Api(first.client, database_url).count(
            "(SELECT DISTINCT key FROM process_definitions) AS k"
        )
        assert versions == keys > 0  # one version of each shipped process, not two
        assert await Api(first.client, database_url).count("users", "username = 'admin'") == 1
    finally:
        await asyncio.gather(first.__aexit__(None, None, None), second.__aexit__(None, None, None))


async def test_concurrent_urges_through_two_replicas_record_one(api: Api, running_app):
    case = await api.apply()
    task = await api.open_task(case["id"], "accept_application")
    async with running_app(api.database_url) as other:
        second = Api(other, api.database_url)
        second.headers = api.headers
        answers = await asyncio.gather(
            *(
                replica.post(who, f"/tasks/{task['id']}/urge", {"note": "请尽快受理"})
                for replica in (api, second)
                for who in ("portal", "county", "county")
            )
        )
    assert sorted(r.status_code for r in answers) == [200] + [429] * 5
    assert await api.count("events", "type = 'task.urged'") == 1


async def test_an_event_written_just_after_a_subscription_by_a_replica_whose_clock_lags_is_delivered(
    api: Api,
):
    """Replicas' clocks differ by milliseconds: an event committed after the subscription but
    stamped a little earlier (another replica wrote it) is still the subscription's."""
    import sqlalchemy as sa

    from app.db.engine import create_engine
    from app.db.models import outbox, webhook_subscriptions

    with Receiver() as receiver:
        sub = await subscribe(api, "portal", receiver.url("/hook"), event_types=["application.submitted"])
        case = await api.apply()
        db = create_engine(api.database_url)
        try:
            async with db.begin() as conn:
                made = (
                    await conn.execute(
                        sa.select(webhook_subscriptions.c.created_at).where(
                            webhook_subscriptions.c.id == sub["id"]
                        )
                    )
                ).scalar_one()
                # As if the lagging replica had stamped the event 50 ms before the subscription.
                await conn.execute(
                    sa.update(outbox)
                    .where(outbox.c.application_id == case["id"])
                    .values(created_at=made - timedelta(milliseconds=50))
                )
        finally:
            await db.dispose()
        assert (await api.post("admin", "/admin/timers/run")).status_code == 200
        assert await api.count("webhook_deliveries", f"subscription_id = '{sub['id']}'") == 1
        assert [e["type"] for e in receiver.events("/hook")] == ["application.submitted"]
