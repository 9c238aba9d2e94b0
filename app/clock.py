"""The service clock: the one source of "now" for timers, deadlines and audit times.

In production it is the system clock. With ``AIDFLOW_ENV=test`` it may be placed on any
instant within ``EARLIEST``..``LATEST`` by a stored offset, as Camunda's ClockUtil does, so
tests and demos can stand on the day their rules need and cross a seven-day notice period in
a second.  The offset lives in the database (``service_clock``) so every process of a
deployment agrees; this module keeps the process-local copy that readers use.
"""

from datetime import UTC, datetime, timedelta

# Sane years: deadlines (at most ten years of working days ahead) and dates stay far inside
# what ``datetime`` can hold, and every calendar year an administrator may load is reachable.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def real_now() -> datetime:
    """Wall-clock time, for what moving the test clock must not touch (sessions, lock-outs, signatures)."""
    return datetime.now(UTC)


def offset_seconds() -> float:
    return _offset.total_seconds()


def set_offset_seconds(seconds: float) -> None:
    global _offset
    _offset = timedelta(seconds=seconds)
