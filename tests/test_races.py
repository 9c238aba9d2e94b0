"""Races that reach the guarded statements for real: two requests on two connections are held at
the same point by a row lock another connection keeps (tests/row_barrier.py, a barrier made of the
database itself), then let go in a known order."""

import pytest

from tests.helpers import Api
from tests.row_barrier import collide
from tests.test_minban import APPROVE, _apply, edu  # noqa: F401 (fixture)


async def test_two_steps_of_one_case_at_once_the_second_writer_gets_409_and_a_retry_succeeds(edu: Api):
    if edu.database_url.startswith("sqlite"):
        pytest.skip("SQLite takes the write lock at BEGIN: the second request reads the first one's version")
    case = await _apply(edu)
    await edu.step("edu_town", case["id"], "township_initial_review", APPROVE)
    tasks = {t["name"]: t for t in (await edu.application(case["id"]))["open_tasks"]}
    # Both have loaded the case at version v and completed their step in memory; both wait to write
    # version v + 1 with ``WHERE version = v``. The first in line wins; the second matches no row.
    education, finance = await collide(
        edu.database_url,
        "applications",
        case["id"],
        "UPDATE applications",
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
    assert education.status_code == 200, education.text
    assert finance.status_code == 409 and finance.headers["content-type"] == "application/problem+json"
    assert finance.json() == {
        "type": "https://aidflow.dev/problems/concurrent_change",
        "title": "Conflict",
        "status": 409,
        "code": "concurrent_change",
        "detail": "the case was changed by someone else at the same time; reload and retry",
    }
    loser = finance
    # Nothing of the loser's step was kept; sent again, it goes through.
    names = sorted(t["name"] for t in (await edu.application(case["id"]))["open_tasks"])
    assert names == ["finance_review", "health_review", "hr_review"], names
    retry = loser.request
    again = await edu.client.send(
        edu.client.build_request(retry.method, retry.url, content=retry.content, headers=retry.headers)
    )
    assert again.status_code == 200, again.text
    names = sorted(t["name"] for t in (await edu.application(case["id"]))["open_tasks"])
    assert names == ["health_review", "hr_review"], names
