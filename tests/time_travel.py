"""Runs a test process on another day than today, to prove the suite does not read the real date.

``AIDFLOW_TEST_TODAY=2029-06-15`` (or a full ISO instant) moves this process's wall clock there
with time-machine, ticking on from it; the test configuration applies it before any test runs,
and ``python -m tests.time_travel <console script> [args…]`` carries it into a server or CLI a
test starts. Tests that pin the service clock are unaffected; a test or a code path that reads
the real date where it should read the service clock gets a date years away and fails.
(Debian's libfaketime cannot do this: it breaks Python's timed lock waits, which aiosqlite uses.)
"""

import os
import sys
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import entry_points
from zoneinfo import ZoneInfo

ENV = "AIDFLOW_TEST_TODAY"
OFFSET_ENV = "AIDFLOW_TEST_TRAVEL_SECONDS"  # set by the first process, inherited by those it starts


def destination(text: str) -> datetime:
    """A date means 09:00 in Asia/Shanghai, the start of an office day; an instant is taken as given."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(9, 0), ZoneInfo("Asia/Shanghai"))
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"{ENV} needs a date or an instant with a timezone offset, not {text!r}")
    return instant


def start_if_asked() -> datetime | None:
    text = os.environ.get(ENV, "").strip()
    if not text:
        return None
    import time_machine

    # The first process fixes how far it travels; the processes it starts travel the same distance,
    # so their clocks agree with it (each travelling to the same instant at its own start would put
    # a process started later behind one started earlier, and a worker's lease or an event's time
    # would then read wrong across processes).
    real = datetime.now(UTC)
    if os.environ.get(OFFSET_ENV):
        where = real + timedelta(seconds=float(os.environ[OFFSET_ENV]))
    else:
        where = destination(text)
        os.environ[OFFSET_ENV] = repr((where - real).total_seconds())
    time_machine.travel(where, tick=True).start()
    # time-machine starts the ticking at the first read of the clock, not at start(): read it now, or
    # the whole import of the app (a second or more on a busy machine) would put this process behind.
    datetime.now(UTC)
    return where


def command(script: str, *args: str) -> list[str]:
    """The argv that runs a console script of this project, shifted like this process when asked."""
    if os.environ.get(ENV, "").strip():
        return [sys.executable, "-m", "tests.time_travel", script, *args]
    return [os.path.join(os.path.dirname(sys.executable), script), *args]


if __name__ == "__main__":
    start_if_asked()
    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == sys.argv[1]]
    sys.argv = sys.argv[1:]
    sys.exit(script.load()())
