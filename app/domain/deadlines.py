"""Step time limits from the BPMN (``10 working days``, ``3 days`` or an ISO duration).

Rule: the day the step starts does not count; the deadline is the end of the Nth
(working) day after it, in Asia/Shanghai.  Until the official calendar lands
(issue 3) working days are Monday to Friday.
"""

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
_LIMIT = re.compile(r"^\s*(\d+)\s+(working\s+days?|days?)\s*$", re.IGNORECASE)
_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_time_limit(text: str) -> tuple[int, bool] | timedelta:
    """(N, working?) for day counts, a timedelta for ISO durations; ValueError otherwise."""
    match = _LIMIT.match(text)
    if match:
        return int(match[1]), match[2].lower().startswith("working")
    iso = _ISO.match(text.strip().upper())
    if iso and any(iso.groups()):
        d, h, m, s = (int(g or 0) for g in iso.groups())
        return timedelta(days=d, hours=h, minutes=m, seconds=s)
    raise ValueError(f"time limit {text!r} is not 'N working days', 'N days' or an ISO duration")


def _end_of_day(day) -> datetime:
    return datetime.combine(day, time(23, 59, 59), SHANGHAI)


def due_at(start: datetime, time_limit: str | None) -> datetime | None:
    if not time_limit:
        return None
    limit = parse_time_limit(time_limit)
    if isinstance(limit, timedelta):
        return start + limit
    count, working = limit
    day = start.astimezone(SHANGHAI).date()
    while count > 0:
        day += timedelta(days=1)
        if not working or day.weekday() < 5:
            count -= 1
    return _end_of_day(day)
