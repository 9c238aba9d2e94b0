"""Step time limits from the BPMN: ``10 working days``, ``3 days``, ``by day 20`` or an ISO duration.

Working days follow ``app.domain.timekeeping.calendar`` (start day not counted, end of the Nth working
day, Asia/Shanghai); ``N days`` are calendar days by the same rule; ISO durations are exact.
``by day N`` is the Nth of the month the step opened in (a monthly report "每月20日前"); when
that day is not a working day the time runs to the end of the next working day (民法典 Art. 203:
a period whose last day is a holiday ends on the day after the holiday).
"""

import calendar as months
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog

from app.domain.timekeeping.calendar import MAX_DAYS, SHANGHAI, WorkingDays, end_of_day
from app.metrics import PROVISIONAL_DEADLINES

_LIMIT = re.compile(r"^\s*(\d+)\s+(working\s+days?|days?)\s*$", re.IGNORECASE)
_BY_DAY = re.compile(r"^\s*by\s+day\s+(\d{1,2})\s*$", re.IGNORECASE)
_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
log = structlog.get_logger(__name__)

CALENDAR, PROVISIONAL, NATURAL = "calendar", "provisional", "natural"


@dataclass(frozen=True)
class Deadline:
    due_at: datetime | None = None
    # calendar: official working days; provisional: an unpublished year counted on weekends only;
    # natural: calendar days or an exact duration.
    basis: str | None = None
    remind_at: datetime | None = None


@dataclass(frozen=True)
class DayOfMonth:
    day: int


def parse_time_limit(text: str) -> tuple[int, bool] | timedelta | DayOfMonth:
    """(N, working?) for day counts, a timedelta for ISO durations, DayOfMonth for ``by day N``;
    ValueError otherwise."""
    by_day = _BY_DAY.match(text)
    if by_day:
        if not 1 <= int(by_day[1]) <= 31:
            raise ValueError(f"time limit {text!r}: a day of the month is 1–31")
        return DayOfMonth(int(by_day[1]))
    match = _LIMIT.match(text)
    if match:
        if int(match[1]) > MAX_DAYS:
            raise ValueError(f"time limit {text!r} is longer than {MAX_DAYS} days")
        return int(match[1]), match[2].lower().startswith("working")
    iso = _ISO.match(text.strip().upper())
    if iso and any(iso.groups()):
        d, h, m, s = (int(g or 0) for g in iso.groups())
        limit = timedelta(days=d, hours=h, minutes=m, seconds=s)
        if limit > timedelta(days=MAX_DAYS):
            raise ValueError(f"time limit {text!r} is longer than {MAX_DAYS} days")
        return limit
    raise ValueError(f"time limit {text!r} is not 'N working days', 'N days', 'by day N' or an ISO duration")


def _by_day(start: datetime, limit: DayOfMonth, calendar: WorkingDays) -> Deadline:
    opened = start.astimezone(SHANGHAI).date()
    day = date(opened.year, opened.month, min(limit.day, months.monthrange(opened.year, opened.month)[1]))
    for _ in range(31):  # the longest run of days off (Spring Festival) is far shorter
        if calendar.is_working_day(day):
            break
        day += timedelta(days=1)
    basis = CALENDAR if calendar.is_known(day.year) else PROVISIONAL
    return Deadline(end_of_day(day), basis, end_of_day(day - timedelta(days=1)))


def compute(
    start: datetime, time_limit: str | None, calendar: WorkingDays, what: str = "deadline"
) -> Deadline:
    if not time_limit:
        return Deadline()
    limit = parse_time_limit(time_limit)
    if isinstance(limit, DayOfMonth):
        return _by_day(start, limit, calendar)
    if isinstance(limit, timedelta):
        return Deadline(
            start + limit, NATURAL, start + limit - timedelta(days=1) if limit > timedelta(days=1) else None
        )
    count, working = limit
    if not working:
        day = start.astimezone(SHANGHAI).date()
        return Deadline(
            end_of_day(day + timedelta(days=count)),
            NATURAL,
            end_of_day(day + timedelta(days=count - 1)) if count > 1 else None,
        )
    due, provisional = calendar.deadline(start, count)
    remind = calendar.deadline(start, count - 1)[0] if count > 1 else None
    if provisional:
        PROVISIONAL_DEADLINES.inc()
        log.warning(
            "provisional_deadline",
            what=what,
            start=start.isoformat(),
            time_limit=time_limit,
            due_at=due.isoformat(),
            fix="load that year's official calendar (管理 → 工作日历); the deadline is recomputed then",
        )
    return Deadline(due, PROVISIONAL if provisional else CALENDAR, remind)
