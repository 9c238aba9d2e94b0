"""Which audit events count towards which figure; the one rule used by the change that happens
(``audit.Recorder``) and by a rebuild from the trail (``rollups.rebuild``), so both agree."""

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from app.shapes import RowLike

# Months are counted in China's time (as timekeeping.calendar does; importing it would make a cycle via audit).
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Rollups keep a case's place cut to this many levels of its path ("/34/3406/340621/340621101/"
# is a township in the usual province/city/county/township tree); a village's case counts at its
# township. Reports are asked for places at this depth or above.
GRAIN_DEPTH = 4
# Rollups are kept at that grain and also cut to the second and third levels (city, county), so a
# province's or a city's report sums a few thousand rows instead of every township's (docs/reports.md).
GRAINS = (2, 3, GRAIN_DEPTH)

# The outcome of a case (its final status) and the figure it counts in, once per case.
OUTCOMES = ("approved", "refused", "withdrawn", "terminated")
# Figures named after events of a case: audit type → metric.
EVENT_METRICS: Mapping[str, str] = {
    "application.submitted": "received",
    "objection.received": "objections_received",
    "notice.opened": "notices_opened",
    "notice.closed": "notices_closed",
    "notice.objected": "notices_closed",
}
# The step whose completion with ``decision: accept`` is 受理 (accepted) in every program that has it.
ACCEPT_STEP = "accept_application"
# The figures of a report, in the order shown; step figures follow as ``step_done:<step>`` (completed),
# ``step_timed:<step>`` (completed, and the step had a time limit) and ``step_on_time:<step>``.
CASE_METRICS = (
    "received",
    "accepted",
    *OUTCOMES,
    "objections_received",
    "objections_upheld",
    "notices_opened",
    "notices_closed",
    "enrolments_started",
    "enrolments_ended",
)
STEP_PREFIXES = ("step_done:", "step_timed:", "step_on_time:")
# Working days a completed step took, one count per (step, whole days): ``step_days:<step>:<n>``, the
# last bucket holding every step of DAYS_CAP days or more. Histograms sum across places and months and
# give an exact median and 90th percentile for the small integers working days are.
DAYS_PREFIX = "step_days:"
DAYS_CAP = 60
# The key of a completed task (as given to the Recorder) holding the working days it took.
DAYS_TAKEN = "working_days_taken"
# Money (count = items or enrolments, amount = yuan). ``enrolments_started``/``_ended`` carry the
# monthly amount started or ended, ``enrolments_adjusted`` the change of a monthly amount (count 0).
# ``amount_scheduled``: payment items in a batch submitted for payment (a refusal, or the bank's, takes
# them out again); ``amount_paid``: items the bank's result file says it paid. Month: the batch's pay
# date (reports/amounts.py).
MONEY_METRICS = ("enrolments_adjusted", "amount_scheduled", "amount_paid")
# Figures read as "at the end of the period": everything up to its last month, not only within it.
STOCKS = {
    "in_notice": (("notices_opened", 1), ("notices_closed", -1)),
    "enrolments_active": (("enrolments_started", 1), ("enrolments_ended", -1)),
}


def depth(path: str) -> int:
    return path.strip("/").count("/") + 1 if path.strip("/") else 0


def cut(path: str, levels: int) -> str:
    """The path itself, or its ancestor ``levels`` deep."""
    return "/" + "/".join(path.strip("/").split("/")[:levels]) + "/"


def grain_path(division_path: str) -> str:
    """The place a case's figures are kept at: its own, or its ancestor at ``GRAIN_DEPTH``."""
    return cut(division_path, GRAIN_DEPTH)


def grain_for(levels: int) -> int:
    """The coarsest rollup grain that still tells places ``levels`` deep apart."""
    return min(g for g in GRAINS if g >= levels)


def month_of(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date().replace(day=1)


def event_metrics(type_: str, task: RowLike | None, at: datetime) -> list[str]:
    """The figures an event (other than an outcome) adds one to (without looking at its data)."""
    if type_ in EVENT_METRICS:
        return [EVENT_METRICS[type_]]
    if type_ == "task.completed" and task is not None:
        name = str(task["name"])
        due_at = task.get("due_at")
        if not isinstance(due_at, datetime):
            return [f"step_done:{name}"]
        timed = [f"step_done:{name}", f"step_timed:{name}"]
        return [*timed, f"step_on_time:{name}"] if at <= due_at else timed
    return []


Delta = tuple[str, int, Decimal]  # metric, count, amount


def event_deltas(
    type_: str, task: RowLike | None, at: datetime, data: Mapping[str, Any] | None
) -> list[Delta]:
    """Everything an event (other than an outcome) adds: the counted figures above, and those that
    depend on what the event carries (a decision, an objection's outcome, an amount)."""
    found: list[Delta] = [(m, 1, Decimal(0)) for m in event_metrics(type_, task, at)]
    data = data or {}
    if type_ == "task.completed" and task is not None:
        if task["name"] == ACCEPT_STEP and data.get("decision") == "accept":
            found.append(("accepted", 1, Decimal(0)))
    elif type_ == "objection.answered" and data.get("outcome") == "upheld":
        found.append(("objections_upheld", 1, Decimal(0)))
    elif type_ == "benefit.recorded" and data.get("kind") == "monthly":
        found.append(("enrolments_started", 1, _yuan(data.get("amount"))))
    elif type_ == "enrolment.ended" and data.get("benefits"):
        ended = sum((_yuan(b.get("amount")) for b in data["benefits"] if isinstance(b, Mapping)), Decimal(0))
        found.append(("enrolments_ended", 1, ended))
    elif type_ == "enrolment.adjusted":
        found.append(("enrolments_adjusted", 0, _yuan(data.get("to")) - _yuan(data.get("from"))))
    return found


# Event types whose data decides what they add (read by a rebuild from the trail).
DATA_EVENT_TYPES = ("objection.answered", "benefit.recorded", "enrolment.ended", "enrolment.adjusted")


def _yuan(value: object) -> Decimal:
    return (
        Decimal(str(value)).quantize(Decimal("0.01")) if isinstance(value, (int, float, str)) else Decimal(0)
    )


def days_metric(step: str, days: int) -> str:
    return f"{DAYS_PREFIX}{step}:{min(max(days, 0), DAYS_CAP)}"
