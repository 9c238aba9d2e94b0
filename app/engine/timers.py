"""Timers written as plain strings in an uploaded file ("P7D", "R6/P1D", a date): whether they parse,
and whether they are short enough to run."""

import ast

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

# A longer timer is a typo ("P99999999999M"), and a costly one: SpiffWorkflow counts a duration out
# month by month when a case reaches it (and when a cycle is parsed), which would hold an engine thread
# for days; a day count past timedelta's range crashes the case instead.
MAX_TIMER_DAYS = 3660
_DAYS_PER = {
    "years": 366.0,
    "months": 31.0,
    "weeks": 7.0,
    "days": 1.0,
    "hours": 1 / 24,
    "minutes": 1 / 1440,
    "seconds": 1 / 86400,
}


def _longest_days(value: str) -> float:
    """The longest duration in a timer value, in days (at most 31 a month); 0 for a date."""
    parts = value.upper().replace("--", "/").split("/")
    durations = [TimerEventDefinition.parse_iso_duration(p) for p in parts if p.startswith("P")]
    return max((sum(_DAYS_PER[k] * float(n) for k, n in d.items()) for d in durations), default=0.0)


def timer_literal_problem(source: str) -> str | None:
    """For a timer written as a plain string ("P7D", "2030-01-01T00:00:00+08:00"), why it would not parse
    or why it may not be used (longer than ``MAX_TIMER_DAYS``)."""
    try:
        value = ast.literal_eval(source.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None  # an expression (e.g. working_days(5)): checked when it compiles and when it runs
    if not isinstance(value, str):
        return f"timer value {value!r} is not a string"
    try:
        if _longest_days(value) > MAX_TIMER_DAYS:
            return (
                f"timer {value!r} is longer than {MAX_TIMER_DAYS} days: a time limit is counted in "
                "working days or months (e.g. P30D, working_days(20))"
            )
        if value.upper().startswith("R"):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            TimerEventDefinition.parse_time_or_duration(value)
    except Exception as exc:  # SpiffWorkflow raises bare Exception for a bad duration
        return f"timer {value!r} is not an ISO 8601 date, duration or cycle ({exc})"
    return None
