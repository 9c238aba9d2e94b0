"""待处理异常 (/ui/admin/stuck): what the worker set aside, seen and sent round again by an administrator in
a browser — a timer whose step failed every attempt and a follow-up case given up after five refusals."""

import pytest

from app.domain.cases.timers import MAX_ATTEMPTS
from tests.conftest import ADMIN_PASSWORD
from tests.test_review_uow import _recheck_decided_to_terminate_while_a_termination_runs
from tests.test_timer_failures import BROKEN
from tests.web_support import PHONE

pytestmark = pytest.mark.dates


async def _timer_set_aside(api) -> dict:
    await api.upload(BROKEN.encode(), "escalation_demo.bpmn")
    case = await api.apply(program="escalation_demo")
    await api.advance(days=5)
    for _ in range(MAX_ATTEMPTS):
        await api.run_timers()
        await api.advance(seconds=3601)
    assert await api.count("timers", "failed_at IS NOT NULL AND fired_at IS NULL") == 1
    return case


async def _followup_given_up(api) -> dict:
    _, recheck, _ = await _recheck_decided_to_terminate_while_a_termination_runs(api)
    for attempt in range(5):
        await api.post("admin", "/admin/timers/run")
        await api.post("admin", "/admin/clock", {"advance_seconds": 2**attempt * 60 + 1})
    assert await api.count("case_followups", "started_at IS NULL AND attempts = 5") == 1
    return recheck


async def test_an_admin_sees_what_the_worker_set_aside_and_sends_it_round_again(live_ui):
    ui, api = live_ui, live_ui.api
    recheck = await _followup_given_up(api)  # sets the clock to 2027-05-30 itself
    case = await _timer_set_aside(api)

    # A reviewer may not open the page nor post its buttons.
    reviewer = await ui.login("county")
    r = await reviewer.goto(ui.url + "/ui/admin/stuck")
    assert r.status == 403

    page = await ui.login("admin", ADMIN_PASSWORD)
    await page.goto(ui.url + "/ui/admin")
    await page.get_by_role("link", name="待处理异常").click()
    timers = page.locator("#failed-timers")
    assert await page.locator("#timers-total").inner_text() == "1"
    row = await timers.locator("tbody tr").inner_text()
    assert case["number"] in row and "ZeroDivisionError" in row and str(MAX_ATTEMPTS) in row, row
    assert "计时届满后的环节执行出错" in row, row  # in words first, the technical text beside it
    followups = await page.locator("#failed-followups tbody tr").inner_text()
    assert recheck["number"] in followups and "终止最低生活保障" in followups, followups
    assert "subject_case_in_progress" in followups and "已有同类案件正在办理" in followups, followups
    await ui.shot(page, "stuck-desktop")

    await timers.get_by_role("button", name="重新处理").click()
    await page.get_by_role("status").wait_for()
    assert "已重新排入计时" in await page.get_by_role("status").inner_text()
    assert await page.locator("#timers-total").inner_text() == "0"
    assert [e["actor"] for e in await api.events(case["id"], "timer.retried")] == ["admin"]
    assert await api.count("timers", "failed_at IS NULL AND attempts = 0 AND fired_at IS NULL") >= 1

    # A second tab still showing the follow-up: the first click sends it, the second is told it is gone.
    other = await ui.login("admin", ADMIN_PASSWORD, viewport=PHONE)
    await other.goto(ui.url + "/ui/admin/stuck")
    await ui.shot(other, "stuck-phone")
    assert await other.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.locator("#failed-followups").get_by_role("button", name="重新处理").click()
    assert "已重新排入后续案件" in await page.get_by_role("status").inner_text()
    await other.locator("#failed-followups").get_by_role("button", name="重新处理").click()
    assert "已不在异常列表中" in await other.get_by_role("status").inner_text()
    assert [e["actor"] for e in await api.events(recheck["id"], "case.followup_retried")] == ["admin"]
    assert await api.count("case_followups", "started_at IS NULL AND attempts = 0") == 1
