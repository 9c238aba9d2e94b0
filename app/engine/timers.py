"""Timers: those written as plain strings in an uploaded file ("P7D", "R6/P1D", a date) are checked
at upload; those computed by an expression (``deadline``, a variable the starter gave) are checked
when a case reaches them, by the script engine every case runs with (``BoundedTimersScriptEngine``)."""

import ast
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)

from app import clock
from app.engine.model import TimerValueError
from app.engine.parsing import _flatten

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


def computed_value_problem(definition: TimerEventDefinition, value: Any, now: datetime) -> str | None:
    """Why a timer's computed ``value`` may not be waited on, in words that do not repeat it; None
    when it may. Checked before SpiffWorkflow reads it: the month count stays bounded."""
    kind = (
        "cycle"
        if isinstance(definition, CycleTimerEventDefinition)
        else "duration"
        if isinstance(definition, DurationTimerEventDefinition)
        else "date"
    )
    if not isinstance(value, str):
        return f"the {kind} it computed is a {type(value).__name__}, not an ISO 8601 string"
    try:
        if _longest_days(value) > MAX_TIMER_DAYS:
            return f"the {kind} it computed is longer than {MAX_TIMER_DAYS} days"
        if kind == "duration":
            if not value.upper().startswith("P"):
                raise ValueError("not a duration")
            TimerEventDefinition.parse_iso_duration(value)
            return None
        if kind == "cycle":
            _, due, _ = TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            due = TimerEventDefinition.parse_time_or_duration(value)
            if not isinstance(due, datetime):
                raise ValueError("a duration where a date is expected")
    except Exception:  # SpiffWorkflow raises bare Exception, or whatever a malformed value trips on
        return f"the {kind} it computed is not an ISO 8601 {kind}"
    if due - now > timedelta(days=MAX_TIMER_DAYS):
        return f"the {kind} it computed is more than {MAX_TIMER_DAYS} days ahead"
    return None


def _timer_computed_by(task: Any, expression: str) -> TimerEventDefinition | None:
    for definition in _flatten(getattr(task.task_spec, "event_definition", None)):
        if isinstance(definition, TimerEventDefinition) and definition.expression == expression:
            return definition
    return None


class BoundedTimersScriptEngine(PythonScriptEngine):  # type: ignore[misc]  # SpiffWorkflow is untyped
    """Every expression as the environment evaluates it; a timer's value is checked on its way back
    to SpiffWorkflow, which would otherwise count ``P99999999M`` out month by month, fail on a
    number with an AttributeError, or overflow on a date in year 9999."""

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        value = super().evaluate(task, expression, external_context)
        timer = _timer_computed_by(task, expression)
        if timer is not None:
            problem = computed_value_problem(timer, value, clock.now())
            if problem is not None:
                where = f"timer {task.task_spec.name}"
                raise TimerValueError(f"{where}: {problem} ({value!r:.80})", f"{where}: {problem}")
        return value
