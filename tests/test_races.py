"""Races that reach the guarded statements for real: two requests on two connections are held at
the same point by a row lock another connection keeps (a barrier made of the database itself)."""

import asyncio

import pytest
import sqlalchemy as sa

from app.db.engine import create_engine
from tests.helpers import Api
from tests.test_minban import APPROVE, _apply, edu  # noqa: F401 (fixture)


async def _waiting_on_locks(db) -> int:
    async with db.connect() as conn:
        return (
            await conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        ).scalar_one()


async def test_two_steps_of_one_case_at_once_the_second_writer_gets_409_and_a_retry_succeeds(edu: Api):
    if edu.database_url.startswith("sqlite"):
        pytest.skip("SQLite takes the write lock at BEGIN: the second request reads the first one's version")
    case = await _apply(edu)
    await edu.step("edu_town", case["id"], "township_initial_review", APPROVE)
    tasks = {t["name"]: t for t in (await edu.application(case["id"]))["open_tasks"]}
    db = create_engine(edu.database_url)
    try:
        async with db.connect() as holder:
            await holder.execute(
                sa.text("SELECT 1 FROM applications WHERE id = :id FOR UPDATE"), {"id": case["id"]}
            )
            both = asyncio.ensure_future(
                asyncio.gather(
                    edu.post(
                        "edu",
                        f"/tasks/{tasks['education_review']['id']}/complete",
                        {"data": {"education_decision": "approve"}},
                    ),
                    edu.post(
                        "finance",
                        f"/tasks/{tasks['finance_review']['id']}/complete",
                        {"data": {"finance_decision": "approve"}},
                    ),
                )
            )
            for _ in range(200):  # both requests have loaded version v and wait to write it
                if await _waiting_on_locks(db) >= 2:
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the two requests never met at the case row")
            await holder.rollback()
        results = await both
    finally:
        await db.dispose()
    assert sorted(r.status_code for r in results) == [200, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert (
        loser.json()["code"] == "concurrent_change"
        and loser.headers["content-type"] == "application/problem+json"
    )
    # Nothing of the loser's step was kept; sent again, it goes through.
    names = {t["name"] for t in (await edu.application(case["id"]))["open_tasks"]}
    assert len(names) == 3
    retry = loser.request
    again = await edu.client.send(
        edu.client.build_request(retry.method, retry.url, content=retry.content, headers=retry.headers)
    )
    assert again.status_code == 200, again.text
    assert len((await edu.application(case["id"]))["open_tasks"]) == 2
