"""The service clock: the one source of "now" for timers, deadlines and audit times.

In production it is the system clock. With ``AIDFLOW_ENV=test`` it may be moved forward
(never back) by a stored offset, as Camunda's ClockUtil does, so tests and demos can
cross a seven-day notice period in a second.  The offset lives in the database
(``service_clock``) so every process of a deployment agrees; this module keeps the
process-local copy that readers use.
"""

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def offset_seconds() -> float:
    return _offset.total_seconds()


def set_offset_seconds(seconds: float) -> None:
    global _offset
    _offset = timedelta(seconds=seconds)
