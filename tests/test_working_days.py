"""Working days of the official calendar: deadlines, provisional years, timers, reminders, overdue, supervision."""

from datetime import datetime

import pytest

from app.config import PROJECT_ROOT
from app.domain.timekeeping import calendar, deadlines
from tests.helpers import VILLAGE_B, Api

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

SH = "+08:00"
DIBAO = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_bytes()
ESCALATION = (PROJECT_ROOT / "tests" / "bpmn" / "escalation_demo.bpmn").read_bytes()
YEAR_2030 = {
    "holidays": ["2030-01-01", "2030-06-05", "2030-10-01", "2030-10-02", "2030-10-03"],
    "working_days": ["2030-09-29"],
}


async def _days(api: Api, **params) -> dict:
    r = await api.get("county", "/calendar/working-days", **params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_national_day_and_spring_festival_2026(api: Api):
    # 1–7 October 2026 are off; Saturday 10 October is worked (调休).
    assert await _days(api, **{"from": "2026-09-30", "add": 1}) == {
        "date": "2026-10-08",
        "provisional": False,
    }
    assert await _days(api, **{"from": "2026-10-08", "add": 2}) == {
        "date": "2026-10-10",
        "provisional": False,
    }
    assert await _days(api, **{"from": "2026-09-30", "to": "2026-10-11"}) == {
        "count": 3,
        "provisional": False,
    }
    # Spring Festival 2026: Saturday 14 February worked, 15–23 February off.
    assert await _days(api, **{"from": "2026-02-13", "add": 1}) == {
        "date": "2026-02-14",
        "provisional": False,
    }
    assert await _days(api, **{"from": "2026-02-13", "add": 2}) == {
        "date": "2026-02-24",
        "provisional": False,
    }
    # The start day never counts; counting back and forth agrees.
    assert await _days(api, **{"from": "2026-10-12", "add": 0}) == {
        "date": "2026-10-12",
        "provisional": False,
    }
    assert await _days(api, **{"from": "2026-10-20", "to": "2026-09-30"}) == {
        "count": -10,
        "provisional": False,
    }
    # An unpublished year is counted on weekends only, and says so.
    assert await _days(api, **{"from": "2026-12-30", "add": 3}) == {"date": "2027-01-04", "provisional": True}
    year = (await api.get("county", "/calendar/2026")).json()
    assert (
        year["provisional"] is False
        and "2026-10-01" in year["holidays"]
        and year["working_days"][-1] == "2026-10-10"
    )
    assert "chinese-calendar" in year["source"]
    assert (await api.get("county", "/calendar/2031")).json()["provisional"] is True


async def test_step_deadlines_follow_the_database_calendar(api: Api):
    days = calendar.WorkingDays(
        {2026: (frozenset(map(_d, [f"2026-10-0{i}" for i in range(1, 8)])), frozenset([_d("2026-10-10")]))}
    )
    # Initial review of 10 working days accepted on 30 September ends with 20 October.
    deadline = deadlines.compute(datetime.fromisoformat("2026-09-30T16:00:00+08:00"), "10 working days", days)
    assert deadline.due_at == datetime.fromisoformat("2026-10-20T23:59:59+08:00")
    assert deadline.basis == "calendar"
    assert deadline.remind_at == datetime.fromisoformat("2026-10-19T23:59:59+08:00")
    natural = deadlines.compute(datetime.fromisoformat("2026-09-30T16:00:00+08:00"), "3 days", days)
    assert (
        natural.due_at == datetime.fromisoformat("2026-10-03T23:59:59+08:00") and natural.basis == "natural"
    )

    # End to end: a case whose initial review starts on a Monday before a Wednesday holiday.
    await api.load_year(2030, **YEAR_2030)
    await api.set_clock("2030-06-03T10:00:00" + SH)
    case = await api.apply()
    assert case["case_due_at"] == "2030-07-16T15:59:59Z" and case["case_due_basis"] == "calendar"
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    review = await api.open_task(case["id"], "initial_review")
    # 4, 6, 7, 10, 11, 12, 13, 14, 17, 18 June: 5 June is a holiday.
    assert review["due_at"] == "2030-06-18T15:59:59Z" and review["due_basis"] == "calendar"
    assert review["working_days_left"] == 10 and review["overdue"] is False


async def test_loading_a_year_turns_provisional_deadlines_official(api: Api):
    await api.load_year(2030, **YEAR_2030)
    await api.set_clock("2030-12-23T09:00:00" + SH)
    case = await api.apply()
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    review = await api.open_task(case["id"], "initial_review")
    # 24–27, 30, 31 December, then 2031 on weekends only: 1, 2, 3, 6 January.
    assert review["due_at"] == "2031-01-06T15:59:59Z" and review["due_basis"] == "provisional"
    assert case["case_due_basis"] == "provisional"

    loaded = await api.load_year(
        2031,
        holidays=["2031-01-01", "2031-01-02", "2031-01-03"],
        working_days=["2031-01-04"],
        source="国务院办公厅关于2031年部分节假日安排的通知",
    )
    assert loaded["recomputed"]["tasks"] == 1 and loaded["recomputed"]["applications"] == 1
    review = await api.open_task(case["id"], "initial_review")
    # 1–3 January off, Saturday 4 January worked: 4, 6, 7, 8 January.
    assert review["due_at"] == "2031-01-08T15:59:59Z" and review["due_basis"] == "calendar"
    assert (await api.application(case["id"]))["case_due_basis"] == "calendar"
    moved = await api.events(case["id"], "task.deadline_recomputed")
    assert moved[0]["data"]["from"].startswith("2031-01-06") and moved[0]["data"]["to"].startswith(
        "2031-01-08"
    )
    assert (await api.get("county", "/calendar/2031")).json()["source"].startswith("国务院办公厅关于2031年")


async def test_bad_calendar_input_is_refused_and_stores_nothing(api: Api):
    for year, body, code in (
        ("2030", {"holidays": ["2031-01-01"]}, "invalid_calendar"),  # outside the year
        ("2030", {"holidays": ["2030-09-29"], "working_days": ["2030-09-29"]}, "invalid_calendar"),  # both
        ("2030", {"working_days": ["2030-09-30"]}, "invalid_calendar"),  # a Monday
        ("2030", {"holidays": ["2030-02-30"]}, "validation_error"),  # no such date
        ("20x0", {}, "invalid_year"),
        ("30", {}, "invalid_year"),
    ):
        r = await api.put("admin", f"/admin/calendar/{year}", {"source": "通知", **body})
        assert r.status_code == 422 and r.json()["code"] == code, (year, body, r.text)
    r = await api.put("county", "/admin/calendar/2030", {"source": "通知"})
    assert r.status_code == 403
    assert (await api.get("county", "/calendar/2030")).json()["provisional"] is True
    assert await api.count("calendar_years", "year = 2030") == 0
    for params in (
        {"from": "2030-13-01", "add": 1},
        {"from": "2030-01-01"},
        {"from": "2030-01-01", "add": -1},
        {"from": "2030-01-01", "add": 1, "to": "2030-02-01"},
    ):
        r = await api.get("county", "/calendar/working-days", **params)
        assert r.status_code == 422, params


async def test_notice_timer_in_working_days_fires_at_the_right_moment(api: Api):
    await api.upload(DIBAO.replace(b'"P7D"', b"working_days(5)"), "dibao.bpmn")
    await api.load_year(2030, **YEAR_2030)
    await api.set_clock("2030-06-03T10:00:00" + SH)
    case = await api.apply()
    await api.to_notice(case["id"])
    # 4, 6, 7, 10, 11 June (5 June off): the notice ends with 11 June.
    await api.set_clock("2030-06-11T23:59:00" + SH)
    assert await api.run_timers() == 0
    await api.set_clock("2030-06-12T00:00:30" + SH)
    assert await api.run_timers() == 1
    await api.open_task(case["id"], "county_confirm")
    scheduled = (await api.events(case["id"], "timer.scheduled"))[0]["data"]
    assert scheduled["due_at"] == "2030-06-11T15:59:59+00:00" and scheduled["due_basis"] == "calendar"


async def test_reminder_and_overdue_happen_exactly_once(api: Api):
    await api.load_year(2030, **YEAR_2030)
    await api.set_clock("2030-03-04T09:00:00" + SH)
    case = await api.apply()
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    task = await api.open_task(case["id"], "initial_review")
    assert task["due_at"] == "2030-03-18T15:59:59Z"

    async def work() -> dict:
        r = await api.post("admin", "/admin/timers/run")
        return r.json()

    await api.set_clock("2030-03-15T23:00:00" + SH)  # before the eve of the deadline
    assert (await work())["reminders"] == 0
    await api.set_clock("2030-03-16T00:00:30" + SH)  # one working day left
    assert (await work())["reminders"] == 1
    assert (await work())["reminders"] == 0
    await api.set_clock("2030-03-19T00:00:30" + SH)
    assert (await work())["overdue"] == 1
    assert {k: v for k, v in (await work()).items() if v} == {}  # nothing left to do
    assert len(await api.events(case["id"], "task.reminder")) == 1
    assert len(await api.events(case["id"], "task.overdue")) == 1
    late = (await api.get("town_a", "/tasks", overdue="true")).json()["items"]
    assert [t["id"] for t in late] == [task["id"]] and late[0]["overdue"] and late[0]["working_days_left"] < 0
    early = (await api.get("town_a", "/tasks", due_before="2030-03-18T00:00:00+08:00")).json()["items"]
    assert early == []
    assert await api.count("outbox", "event_type IN ('task.reminder', 'task.overdue')") == 2


async def test_supervision_counts_overdue_work_per_township(api: Api):
    await api.load_year(2030, **YEAR_2030)
    await api.set_clock("2030-03-04T09:00:00" + SH)
    for division in ("340621100201", "340621100201", VILLAGE_B):
        case = await api.apply(division_code=division)
        who = "town_a" if division != VILLAGE_B else "town_b"
        await api.step(who, case["id"], "accept_application", {"decision": "accept"})
    await api.apply()  # still at acceptance: no time limit, never overdue
    await api.set_clock("2030-04-01T09:00:00" + SH)
    view = (await api.get("county", "/supervision/overdue")).json()
    assert view["total"] == 3
    assert view["by_division"] == [
        {"division_code": "340621100", "name": "濉溪镇", "overdue": 2},
        {"division_code": "340621101", "name": "临涣镇", "overdue": 1},
    ]
    assert {t["name"] for t in view["items"]} == {"initial_review"}
    one = (await api.get("county", "/supervision/overdue", division_code="340621101")).json()
    assert one["total"] == 1 and one["by_division"][0]["division_code"] == "340621101"
    assert (await api.get("other_county", "/supervision/overdue")).json()["total"] == 0
    assert (await api.get("town_a", "/supervision/overdue")).json()[
        "total"
    ] == 0  # peers do not supervise peers
    r = await api.get("portal", "/supervision/overdue")
    assert r.status_code == 403 and r.json()["code"] == "not_a_supervisor"


async def test_boundary_timer_escalates_to_the_county(api: Api):
    await api.upload(ESCALATION, "escalation_demo.bpmn")
    await api.load_year(2030, **YEAR_2030)
    await api.set_clock("2030-06-03T10:00:00" + SH)  # Monday; Wednesday 5 June is off
    case = await api.apply(program="escalation_demo")
    township = await api.open_task(case["id"], "township_review")
    assert township["due_at"] == "2030-06-06T15:59:59Z"
    await api.set_clock("2030-06-06T23:00:00" + SH)
    assert await api.run_timers() == 0
    await api.set_clock("2030-06-07T00:00:30" + SH)
    assert await api.run_timers() == 1
    county = await api.open_task(case["id"], "county_takeover")
    assert county["division_code"] == "340621"
    r = await api.post("town_a", f"/tasks/{township['id']}/complete", {"data": {}})
    assert r.status_code == 409 and r.json()["code"] == "task_not_open"
    assert [e["task"] for e in await api.events(case["id"], "task.cancelled")] == ["township_review"]
    done = await api.complete("county", county["id"], {})
    assert done["application"]["status"] == "approved"


def _d(text: str):
    from datetime import date

    return date.fromisoformat(text)


async def test_provisional_deadlines_are_counted_in_metrics(api: Api):
    def provisional_total(text: str) -> float:
        line = next(x for x in text.splitlines() if x.startswith("aidflow_provisional_deadlines_total "))
        return float(line.split()[1])

    before = provisional_total((await api.client.get("/metrics/")).text)
    await api.set_clock("2031-12-20T10:00:00" + SH)  # 2031 and 2032 unpublished here
    case = await api.apply()
    assert case["case_due_basis"] == "provisional"
    assert provisional_total((await api.client.get("/metrics/")).text) == before + 1


async def test_startup_names_the_calendar_years_missing_and_what_to_do(api: Api):
    from structlog.testing import capture_logs

    from tests.conftest import RunningApp

    async def warned_years() -> list[int]:
        with capture_logs() as logs:
            async with RunningApp(api.database_url):
                pass
        found = [e for e in logs if e.get("event") == "calendar_year_not_loaded"]
        assert all("管理 → 工作日历" in e["fix"] and "provisional" in e["effect"] for e in found), found
        return [e["year"] for e in found]

    await api.set_clock("2031-11-20T10:00:00" + SH)  # 2031 and 2032 unpublished here
    assert await warned_years() == [2031, 2032]
    await api.set_clock("2031-06-20T10:00:00" + SH)  # before November: next year's is not out yet anyway
    assert await warned_years() == [2031]
    await api.load_year(2031, holidays=["2031-01-01"], working_days=[])
    assert await warned_years() == []


def test_a_provisional_deadline_says_so_where_it_is_shown():
    from app.web.render import deadline_text

    task = {"state": "open", "due_at": "2032-01-05", "working_days_left": 3, "overdue": False}
    assert deadline_text({**task, "due_basis": "calendar"}) == "剩余3个工作日"
    assert deadline_text({**task, "due_basis": "provisional"}) == "剩余3个工作日（暂按周末计）"
    late = {**task, "working_days_left": -2, "overdue": True, "due_basis": "provisional"}
    assert deadline_text(late) == "已超期2个工作日（暂按周末计）"
