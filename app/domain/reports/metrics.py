"""Which audit events count towards which figure; the one rule used by the change that happens
(``audit.Recorder``) and by a rebuild from the trail (``rollups.rebuild``), so both agree."""

from collections.abc import Mapping
from datetime import date, datetime
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
# The figures of a report, in the order shown; step figures follow as ``step_done:<step>`` (completed),
# ``step_timed:<step>`` (completed, and the step had a time limit) and ``step_on_time:<step>``.
CASE_METRICS = ("received", *OUTCOMES, "objections_received", "notices_opened", "notices_closed")
STEP_PREFIXES = ("step_done:", "step_timed:", "step_on_time:")


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
    """The figures an event (other than an outcome) adds one to."""
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
