"""What replicas must share lives in the database, not in one process's memory (several app
instances on one database stand for several replicas here; tests/test_replicas.py runs processes)."""

import asyncio

from tests.conftest import ADMIN_PASSWORD, RunningApp
from tests.helpers import Api

OBJECT = "/api/v1/public/notices/none/objections"
BODY = {"entry_id": "x", "reason": "理由写满五个字"}


async def test_the_objection_rate_limit_counts_across_replicas_and_ignores_the_test_clock(database_url):
    async with RunningApp(database_url, objection_rate_limit="4/hour") as one, \
            RunningApp(database_url, objection_rate_limit="4/hour") as two:
        answers = [(await client.post(OBJECT, json=BODY)).status_code for client in (one, two, one, two)]
        assert answers == [404] * 4  # counted before the notice is looked up: a failing request spends its hit
        refused = await two.post(OBJECT, json=BODY)
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert 0 < int(refused.headers["retry-after"]) <= 3600
        # The allowance is wall-clock time: moving the service's test clock cannot buy a new one.
        admin = Api(one, database_url)
        await admin.login("admin", ADMIN_PASSWORD)
        await admin.advance(days=2)
        assert (await one.post(OBJECT, json=BODY)).status_code == 429


async def test_concurrent_objections_through_two_replicas_get_exactly_the_allowance(database_url):
    async with RunningApp(database_url, objection_rate_limit="10/hour") as one, \
            RunningApp(database_url, objection_rate_limit="10/hour") as two:
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
