"""A timer whose value an expression computes when the case runs (here: from what the starter sent) is
bounded like a literal one at upload: past MAX_TIMER_DAYS, or not a date or duration at all, the case
is not left counting months in an engine thread nor crashed. Reached in the worker, the timer before
it is set aside (管理 → 待处理异常) with the reason; reached in a request, the request is refused with
``timer_value_out_of_range`` and nothing changes."""

import time
from datetime import UTC, datetime

import pytest
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)

from app.config import PROJECT_ROOT
from app.engine.timers import MAX_TIMER_DAYS, computed_value_problem
from tests.helpers import VILLAGE_A, Api, id_number

pytestmark = pytest.mark.dates

PROCESS = (PROJECT_ROOT / "tests" / "bpmn" / "computed_timer_demo.bpmn").read_text(encoding="utf-8")
# The starter's value is read at once: the first wait is the computed one.
AT_START = PROCESS.replace(
    '<bpmn:timeDuration>"P1D"</bpmn:timeDuration>', "<bpmn:timeDuration>wait</bpmn:timeDuration>"
)
MONDAY = "2026-11-23T09:00:00+08:00"


def test_computed_values_are_bounded_before_spiffworkflow_reads_them():
    now = datetime(2026, 11, 23, 1, tzinfo=UTC)
    duration = DurationTimerEventDefinition("d", "wait")
    date = TimeDateEventDefinition("t", "until")
    cycle = CycleTimerEventDefinition("c", "every")
    for definition, value in (
        (duration, "P30D"),
        (duration, "PT36H"),
        (duration, f"P{MAX_TIMER_DAYS}D"),
        (date, "2030-01-01T00:00:00+08:00"),
        (date, "2020-01-01T00:00:00+08:00"),  # past: fires at once
        (cycle, "R3/PT1H"),
        (cycle, "R2/2027-01-01T00:00:00+08:00/P1M"),
    ):
        assert computed_value_problem(definition, value, now) is None, value
    for definition, value, why in (
        (duration, "P99999999M", "longer than 3660 days"),
        (duration, "P99999999999999999999Y", "longer than 3660 days"),
        (duration, f"P{MAX_TIMER_DAYS + 1}D", "longer than 3660 days"),
        (duration, "2030-01-01", "not an ISO 8601 duration"),
        (duration, "P1X", "not an ISO 8601 duration"),
        (duration, 30, "is a int, not an ISO 8601 string"),
        (duration, None, "is a NoneType"),
        (date, "9999-12-31T00:00:00+08:00", "more than 3660 days ahead"),
        (date, "9999-12-31T23:00:00-08:00", "not an ISO 8601 date"),  # past year 9999 in UTC
        (date, "P1D", "not an ISO 8601 date"),
        (date, "明天", "not an ISO 8601 date"),
        (cycle, "R5/P99999999M", "longer than 3660 days"),
        (cycle, "R2/9000-01-01T00:00:00+08:00/P1D", "more than 3660 days ahead"),
    ):
        problem = computed_value_problem(definition, value, now)
        assert problem is not None and why in problem, (value, problem)
        assert not isinstance(value, str) or value not in problem  # never repeats the case's data


async def test_a_computed_duration_reads_the_starters_variable(api: Api):
    await api.upload(PROCESS.encode(), "computed_timer_demo.bpmn")
    await api.set_clock(MONDAY)
    case = await api.apply(program="computed_timer_demo", data={"wait": "P2D", "until": "2026-12-31"})
    await api.advance(days=1, seconds=1)
    assert await api.run_timers() == 1  # the day's wait; the starter's two days begin
    assert await api.count("timers", "name = 'as_asked' AND fired_at IS NULL") == 1
    await api.advance(days=2)
    assert await api.run_timers() == 1
    assert (await api.application(case["id"]))["open_tasks"][0]["name"] == "township_review"
    assert await api.count("timers", "failed_at IS NOT NULL OR attempts > 0") == 0


@pytest.mark.parametrize(
    "data",
    [
        {"wait": "P99999999M", "until": "2026-12-31"},  # SpiffWorkflow would count out 8 million years
        {"wait": 30, "until": "2026-12-31"},  # a number: an AttributeError inside SpiffWorkflow before
        {"wait": "P1D", "until": "9999-12-31T00:00:00+08:00"},  # the step's deadline, year 9999
    ],
)
async def test_a_computed_value_out_of_range_sets_the_timer_aside_with_its_reason(api: Api, data):
    await api.upload(PROCESS.encode(), "computed_timer_demo.bpmn")
    await api.set_clock(MONDAY)
    case = await api.apply(program="computed_timer_demo", data=data)
    await api.advance(days=1, seconds=1)
    await api.run_timers()  # the day's wait fires and reaches the starter's
    if data["wait"] == "P1D":
        await api.advance(days=1, seconds=1)
        await api.run_timers()  # the starter's wait fires and reaches the step's deadline
    started = time.monotonic()
    await api.run_timers()
    assert time.monotonic() - started < 60  # no engine thread counting months
    # Set aside at the first attempt: the value comes from the case's data, another try gives the same.
    [failed] = (await api.get("admin", "/admin/timers/failed")).json()
    assert failed["application_id"] == case["id"] and failed["attempts"] == 1
    reason = failed["last_error"]
    assert reason.startswith("timer_value_out_of_range: timer "), reason
    assert ("as_asked" if data["wait"] != "P1D" else "past_deadline") in reason, reason
    assert "99999999" not in reason and "9999-12-31" not in reason  # the case's data stays in the log
    [event] = await api.events(case["id"], "timer.failed")
    assert event["data"]["error"] == reason
    # The case did not move on: its step is not open, the timer is waiting for an administrator.
    assert (await api.application(case["id"]))["open_tasks"] == []


async def test_a_request_that_reaches_a_computed_value_out_of_range_is_refused_and_changes_nothing(api: Api):
    await api.upload(AT_START.encode(), "computed_timer_demo.bpmn")
    before = await api.count("applications")
    for wait in ("P99999999M", 30, "PT"):
        r = await api.post(
            "portal",
            "/applications",
            {
                "program": "computed_timer_demo",
                "division_code": VILLAGE_A,
                "applicant": {"name": "张三", "id_number": id_number(), "phone": "13900000000"},
                "data": {"wait": wait, "until": "2026-12-31"},
            },
        )
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["code"] == "timer_value_out_of_range", r.text
    assert await api.count("applications") == before
    assert await api.count("timers") == 0
    await api.apply(program="computed_timer_demo", data={"wait": "P3D", "until": "2026-12-31"})
    assert await api.count("timers", "name = 'a_day'") == 1
