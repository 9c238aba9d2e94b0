"""A timer whose step fails backs off, is set aside after its last attempt, and an administrator
can send it round again (before, it was tried on every poll forever)."""

import pytest

from app.config import PROJECT_ROOT
from app.domain.timers import MAX_ATTEMPTS
from tests.helpers import Api

pytestmark = pytest.mark.dates

ESCALATION = (PROJECT_ROOT / "tests" / "bpmn" / "escalation_demo.bpmn").read_text(encoding="utf-8")
# After the timer, a script that fails whenever it runs.
BROKEN = ESCALATION.replace(
    '<bpmn:sequenceFlow id="f3" sourceRef="too_late" targetRef="county_takeover" />',
    '<bpmn:sequenceFlow id="f3" sourceRef="too_late" targetRef="broken" />'
    '<bpmn:scriptTask id="broken" name="出错的脚本"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f3b</bpmn:outgoing>'
    '<bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask>'
    '<bpmn:sequenceFlow id="f3b" sourceRef="broken" targetRef="county_takeover" />'
).replace('<bpmn:incoming>f3</bpmn:incoming>\n      <bpmn:outgoing>f4</bpmn:outgoing>',
          '<bpmn:incoming>f3b</bpmn:incoming>\n      <bpmn:outgoing>f4</bpmn:outgoing>')


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
    assert "division by zero" in failed["last_error"], failed["last_error"]
    assert [e["data"]["attempts"] for e in await api.events(case["id"], "timer.failed")] == [MAX_ATTEMPTS]
    await api.advance(days=1)
    await api.run_timers()
    assert await api.count("timers", f"attempts = {MAX_ATTEMPTS}") == 1  # set aside: no more attempts
    assert (await api.application(case["id"]))["open_tasks"][0]["name"] == "township_review"

    # Who may not look or retry: a reviewer, a portal key, a stranger.
    for who, status in (("county", 403), ("portal", 403), ("nobody", 401)):
        assert (await api.get(who, "/admin/timers/failed")).status_code == status
        assert (await api.post(who, f"/admin/timers/{failed['id']}/retry")).status_code == status
    assert (await api.post("admin", "/admin/timers/2147483000/retry")).status_code == 404
    retried = (await api.post("admin", f"/admin/timers/{failed['id']}/retry")).json()
    assert retried["status"] == "due"
    assert [e["actor"] for e in await api.events(case["id"], "timer.retried")] == ["admin"]
    await api.run_timers()
    assert await api.count("timers", "attempts = 1 AND failed_at IS NULL") == 1  # tried afresh
