"""Prometheus metrics, exposed at ``/metrics``."""

from prometheus_client import Counter, Gauge, Histogram

PROVISIONAL_DEADLINES = Counter(
    "aidflow_provisional_deadlines_total",
    "Deadlines computed into a year whose official calendar is not loaded (weekends only)",
)
TASK_COMPLETIONS = Counter("aidflow_task_completions_total", "Human tasks completed", ["program"])
TIMERS_FIRED = Counter("aidflow_timers_fired_total", "Timers fired by workers")
TIMERS_FAILED = Counter(
    "aidflow_timers_failed_total", "Timers set aside after their step failed every attempt"
)
FOLLOWUPS_FAILED = Counter(
    "aidflow_followups_failed_total", "Follow-up cases given up after every attempt to start them was refused"
)
WEBHOOK_QUEUE_DEPTH = Gauge(
    "aidflow_webhook_queue_depth",
    "Webhook events not yet handed over plus deliveries not yet delivered or dead",
)
WEBHOOK_LATENCY = Histogram(
    "aidflow_webhook_delivery_seconds",
    "Time from request to response of webhook sends",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WEBHOOK_ATTEMPTS = Counter(
    "aidflow_webhook_attempts_total", "Webhook send attempts by result", ["result"]
)  # delivered | retry | dead | stale
WEBHOOK_FAILURES = Counter(
    "aidflow_webhook_failures_total", "Failed webhook sends by reason", ["reason"]
)  # timeout | connection | http_status | blocked_address
