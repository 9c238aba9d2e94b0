"""Prometheus metrics, exposed at ``/metrics``."""

from prometheus_client import Counter

PROVISIONAL_DEADLINES = Counter(
    "aidflow_provisional_deadlines_total",
    "Deadlines computed into a year whose official calendar is not loaded (weekends only)",
)
TASK_COMPLETIONS = Counter("aidflow_task_completions_total", "Human tasks completed", ["program"])
TIMERS_FIRED = Counter("aidflow_timers_fired_total", "Timers fired by workers")
