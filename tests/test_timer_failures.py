"""A timer whose step fails backs off, is set aside after its last attempt, and an administrator
can send it round again (before, it was tried on every poll forever)."""

import pytest

from app.config import PROJECT_ROOT
from app.domain.cases.timers import MAX_ATTEMPTS
from tests.helpers import Api

pytestmark = pytest.mark.dates

ESCALATION = (PROJECT_ROOT / "tests" / "bpmn" / "escalation_demo.bpmn").read_text(encoding="utf-8")
# After the timer, a script that fails whenever it runs.
BROKEN = ESCALATION.replace(
    '<bpmn:sequenceFlow id="f3" sourceRef="too_late" targetRef="county_takeover" />',
    '<bpmn:sequenceFlow id="f3" sourceRef="too_late" targetRef="broken" />'
    '<bpmn:scriptTask id="broken" name="出错的脚本"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f3b</bpmn:outgoing>'
    "<bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask>"
    '<bpmn:sequenceFlow id="f3b" sourceRef="broken" targetRef="county_takeover" />',
).replace(
    "<bpmn:incoming>f3</bpmn:incoming>\n      <bpmn:outgoing>f4</bpmn:outgoing>",
    "<bpmn:incoming>f3b</bpmn:incoming>\n      <bpmn:outgoing>f4</bpmn:outgoing>",
)


async def test_a_failing_timer_backs_off_then_is_set_aside_and_can_be_retried(api: Api):
    assert "x = 1 / 0" in BROKEN and 'targetRef="broken"' in BROKEN
    await api.upload(BROKEN.encode(), "escalation_demo.bpmn")
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    case = await api.apply(program="escalation_demo")
    await api.advance(days=5)
    await api.run_timers()
    assert await api.count("timers", "attempts = 1 AND retry_at IS NOT NULL AND failed_at IS NULL") == 1
    await api.run_timers()  # backing off: not tried again at once
    assert await api.count("timers", "attempts = 1") == 1
    for attempt in range(2, MAX_ATTEMPTS + 1):
        await api.advance(seconds=3601)
        await api.run_timers()
        assert await api.count("timers", f"attempts = {attempt}") == 1
    assert await api.count("timers", "failed_at IS NOT NULL AND fired_at IS NULL") == 1
    [failed] = (await api.get("admin", "/admin/timers/failed")).json()
    assert failed["application_id"] == case["id"] and failed["attempts"] == MAX_ATTEMPTS
    # The classes of the failure, not its text (a script's error text may quote the case's data).
    assert "ZeroDivisionError" in failed["last_error"] and "error id " in failed["last_error"], failed[
        "last_error"
    ]
    assert "division by zero" not in failed["last_error"], failed["last_error"]
    [event] = await api.events(case["id"], "timer.failed")
    assert event["data"]["attempts"] == MAX_ATTEMPTS and event["data"]["error"] == failed["last_error"]
    await api.advance(days=1)
    await api.run_timers()
    assert await api.count("timers", f"attempts = {MAX_ATTEMPTS}") == 1  # set aside: no more attempts
    assert (await api.application(case["id"]))["open_tasks"][0]["name"] == "township_review"

    # Who may not look or retry: a reviewer, a portal key, a stranger.
    for who, status in (("county", 403), ("portal", 403), ("nobody", 401)):
        assert (await api.get(who, "/admin/timers/failed")).status_code == status
        assert (await api.post(who, f"/admin/timers/{failed['id']}/retry")).status_code == status
    r = await api.post("admin", "/admin/timers/2147483000/retry")
    assert r.status_code == 404 and r.json()["code"] == "timer_not_failed", (
        r.text
    )  # no failed timer of that id
    retried = (await api.post("admin", f"/admin/timers/{failed['id']}/retry")).json()
    assert retried["status"] == "due"
    assert [e["actor"] for e in await api.events(case["id"], "timer.retried")] == ["admin"]
    await api.run_timers()
    assert await api.count("timers", "attempts = 1 AND failed_at IS NULL") == 1  # tried afresh


async def _exec(api: Api, sql: str, **params) -> None:
    import sqlalchemy as sa

    from app.db.engine import create_engine

    db = create_engine(api.database_url)
    try:
        async with db.begin() as conn:
            await conn.execute(sa.text(sql), params)
    finally:
        await db.dispose()


async def test_a_case_that_cannot_load_fails_alone_and_the_round_goes_on(api: Api):
    """Its timer was first in every round and an unexpected error ended the round, forever: no other
    timer, reminder or webhook of the installation went on."""
    await api.upload(ESCALATION.encode(), "escalation_demo.bpmn")
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    broken = await api.apply(program="escalation_demo")
    await api.advance(seconds=60)
    healthy = await api.apply(program="escalation_demo")
    await api.advance(days=5)
    await _exec(
        api,
        "UPDATE applications SET engine_state = :state WHERE id = :id",
        state='{"format": "spiff-json+zlib+base64", "data": "bm90IHpsaWI="}',
        id=broken["id"],
    )
    await api.run_timers()  # was 500, and the healthy case's timer never fired
    assert (await api.application(healthy["id"]))["open_tasks"][0]["name"] == "county_takeover"
    assert (
        await api.count(
            "timers",
            f"application_id = '{broken['id']}' AND attempts = 1 "
            "AND retry_at IS NOT NULL AND fired_at IS NULL",
        )
        == 1
    )
    assert (await api.get("admin", "/admin/timers/failed")).json() == []  # backing off, not set aside yet
    last_error = await _scalar(api, f"SELECT last_error FROM timers WHERE application_id = '{broken['id']}'")
    assert last_error.startswith("unexpected error (error id ") and "zlib" not in last_error, last_error


async def _scalar(api: Api, sql: str):
    import sqlalchemy as sa

    from app.db.engine import create_engine

    db = create_engine(api.database_url)
    try:
        async with db.connect() as conn:
            return (await conn.execute(sa.text(sql))).scalar_one()
    finally:
        await db.dispose()


async def test_a_step_nobody_can_take_counts_as_a_failed_attempt(api: Api):
    """A DomainError after the timer (no place of the next step's level above the case) was
    'deferred' on every poll forever with attempts 0."""
    nowhere = ESCALATION.replace(
        '<bpmn:lane id="lane_county" name="county_civil_affairs">',
        '<bpmn:lane id="lane_county" name="university_union">',
    )
    assert nowhere != ESCALATION
    await api.upload(nowhere.encode(), "escalation_demo.bpmn")
    await api.set_clock("2026-11-23T09:00:00+08:00")
    case = await api.apply(program="escalation_demo")
    await api.advance(days=5)
    await api.run_timers()
    assert (
        await api.count(
            "timers", f"application_id = '{case['id']}' AND attempts = 1 AND retry_at IS NOT NULL"
        )
        == 1
    )
    last_error = await _scalar(api, f"SELECT last_error FROM timers WHERE application_id = '{case['id']}'")
    assert last_error.startswith("no_division_for_role"), last_error
    assert (await api.application(case["id"]))["open_tasks"][0][
        "name"
    ] == "township_review"  # nothing half-done


TWO_TIMERS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="two_timers_definitions" targetNamespace="https://aidflow.example/tests/two-timers">
  <bpmn:process id="two_timers" name="两个计时" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="starters" value="portal" />
      <spiffworkflow:property name="division_levels" value="village,township" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_township" name="township_civil_affairs">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>split</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>wait_a</bpmn:flowNodeRef><bpmn:flowNodeRef>wait_b</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>after_a</bpmn:flowNodeRef><bpmn:flowNodeRef>after_b</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_a</bpmn:flowNodeRef><bpmn:flowNodeRef>end_b</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split" />
    <bpmn:parallelGateway id="split"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>fa</bpmn:outgoing><bpmn:outgoing>fb</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:sequenceFlow id="fa" sourceRef="split" targetRef="wait_a" />
    <bpmn:sequenceFlow id="fb" sourceRef="split" targetRef="wait_b" />
    <bpmn:intermediateCatchEvent id="wait_a" name="一天后A"><bpmn:incoming>fa</bpmn:incoming><bpmn:outgoing>fa2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="ta"><bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="wait_b" name="一天后B"><bpmn:incoming>fb</bpmn:incoming><bpmn:outgoing>fb2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="tb"><bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="fa2" sourceRef="wait_a" targetRef="after_a" />
    <bpmn:sequenceFlow id="fb2" sourceRef="wait_b" targetRef="after_b" />
    <bpmn:userTask id="after_a" name="A之后"><bpmn:incoming>fa2</bpmn:incoming><bpmn:outgoing>fa3</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="after_b" name="B之后"><bpmn:incoming>fb2</bpmn:incoming><bpmn:outgoing>fb3</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="fa3" sourceRef="after_a" targetRef="end_a" />
    <bpmn:sequenceFlow id="fb3" sourceRef="after_b" targetRef="end_b" />
    <bpmn:endEvent id="end_a"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>fa3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_b"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>fb3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


async def test_a_timer_set_aside_does_not_fire_with_another_timer_of_its_case(api: Api):
    await api.upload(TWO_TIMERS.encode(), "two_timers.bpmn")
    await api.set_clock("2026-11-23T09:00:00+08:00")
    case = await api.apply(program="two_timers")
    assert await api.count("timers", f"application_id = '{case['id']}' AND fired_at IS NULL") == 2
    await _exec(
        api,
        "UPDATE timers SET failed_at = due_at, attempts = 8 WHERE application_id = :id AND name = 'wait_a'",
        id=case["id"],
    )
    await api.advance(days=2)
    await api.run_timers()
    assert [t["name"] for t in (await api.application(case["id"]))["open_tasks"]] == ["after_b"]
    assert (
        await api.count("timers", f"application_id = '{case['id']}' AND name = 'wait_a' AND fired_at IS NULL")
        == 1
    )
    [failed] = (await api.get("admin", "/admin/timers/failed")).json()
    await api.post("admin", f"/admin/timers/{failed['id']}/retry")
    await api.run_timers()
    assert sorted(t["name"] for t in (await api.application(case["id"]))["open_tasks"]) == [
        "after_a",
        "after_b",
    ]
