"""Worker processes for BPMN scripts: the service's own process never runs a script.

A script may loop, so it cannot be bounded by reading it.  It runs in one of ``WORKERS`` small
processes (``app/script_worker.py``) with ``RLIMIT_AS`` of ``MEMORY_MB`` and a CPU budget of
``CPU_SECONDS``; the data goes in and out as JSON.  The caller's thread waits at most
``WALL_SECONDS`` for the answer, then kills the worker (a replacement starts on next use).
``run`` blocks its thread: the domain runs engine changes of processes with scripts in a thread
(``cases.store.run_engine``) so the event loop keeps answering meanwhile.

This module imports no SpiffWorkflow and nothing of the service but ``app.sandbox``.
"""

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

from app.sandbox import ExpressionError, LimitExceeded

WORKERS = 2
CPU_SECONDS = 1.0
# The CPU budget plus slack for a busy machine; past it the worker is killed, whatever it does.
WALL_SECONDS = 3.0
MEMORY_MB = 256
# A worker retires (and is replaced) after this much CPU in its life; RLIMIT_CPU kills it just after.
LIFETIME_CPU_SECONDS = 600
# How long a job waits for a free worker (all busy with slow scripts) before it is refused.
QUEUE_SECONDS = 2 * WALL_SECONDS
START_SECONDS = 20.0
MAX_ANSWER_BYTES = 1_100_000

_WORKER_FILE = Path(__file__).with_name("script_worker.py")


class _Broken(Exception):
    """The worker did not answer properly; it is killed."""


class _Worker:
    def __init__(self):
        argv = [
            sys.executable,
            "-I",
            str(_WORKER_FILE),
            str(CPU_SECONDS),
            str(MEMORY_MB * 2**20),
            str(LIFETIME_CPU_SECONDS),
        ]
        # Its own session: a terminal's Ctrl-C or a signal to the service's process group is the
        # service's to handle. No environment: scripts have nothing to read there anyway.
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            close_fds=True,
            start_new_session=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin")},
        )
        self._buffer = b""
        try:
            ready = self._read_line(time.monotonic() + START_SECONDS)
        except _Broken:
            self.kill()
            raise LimitExceeded("a script worker could not start") from None
        if json.loads(ready) != {"ready": True}:
            self.kill()
            raise LimitExceeded("a script worker could not start")

    def alive(self) -> bool:
        return self.process.poll() is None

    def _read_line(self, deadline: float) -> bytes:
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Broken("timeout")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise _Broken("ended")
                self._buffer += chunk
                if len(self._buffer) > MAX_ANSWER_BYTES:
                    raise _Broken("answer too large")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def ask(self, payload: bytes) -> dict:
        deadline = time.monotonic() + WALL_SECONDS
        try:
            self.process.stdin.write(payload)
        except OSError as exc:
            raise _Broken("gone") from exc
        return json.loads(self._read_line(deadline))

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()

    def close(self) -> None:
        """Let an idle worker end by itself (end of its input)."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


_idle: list[_Worker] = []
_lock = threading.Lock()
_slots = threading.BoundedSemaphore(WORKERS)


def _take() -> _Worker:
    with _lock:
        while _idle:
            worker = _idle.pop()
            if worker.alive():
                return worker
            worker.kill()
    return _Worker()


def run(source: str, data: dict) -> dict:
    """Run a script over the case's ``data``; the names it created or changed, with their values.
    Raises ``LimitExceeded`` when it went beyond a bound, ``ExpressionError`` when it failed."""
    try:
        payload = json.dumps({"script": source, "data": data}, ensure_ascii=False).encode() + b"\n"
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"the case's data cannot be given to a script: {exc}") from None
    if not _slots.acquire(timeout=QUEUE_SECONDS):
        raise LimitExceeded(f"every script worker stayed busy for {QUEUE_SECONDS:g} s")
    try:
        worker = _take()
        try:
            answer = worker.ask(payload)
        except _Broken as exc:
            worker.kill()
            if str(exc) == "timeout":
                raise LimitExceeded(f"the script did not finish within {WALL_SECONDS:g} s") from None
            raise LimitExceeded(
                f"the script's worker stopped ({exc}); the script went beyond its limits"
            ) from None
        if answer.pop("retiring", False):
            worker.close()
        else:
            with _lock:
                _idle.append(worker)
    finally:
        _slots.release()
    if answer["ok"]:
        return answer["data"]
    raise (LimitExceeded if answer["limit"] else ExpressionError)(answer["error"])


@atexit.register
def shutdown() -> None:
    """Idle workers end with their input; a busy one is killed by its caller's timeout."""
    with _lock:
        workers, _idle[:] = list(_idle), []
    for worker in workers:
        worker.close()


def worker_pids() -> list[int]:
    with _lock:
        return [w.process.pid for w in _idle if w.alive()]
