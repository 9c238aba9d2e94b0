"""One script worker process: runs BPMN scripts one at a time inside CPU and memory limits.

Started by ``app.script_pool`` as ``python -I app/script_worker.py CPU_SECONDS MEMORY_BYTES
LIFETIME_CPU_SECONDS``; speaks one JSON line per job on stdin/stdout:
``{"script", "data"}`` → ``{"ok": true, "data": {changed names}}`` or
``{"ok": false, "limit": bool, "error"}``.

Bounds, from the gentlest to the hardest:
* the sandbox's operand checks refuse ``"a" * 10**9`` before it runs;
* an ``ITIMER_PROF`` of the job's CPU budget interrupts a Python-level loop (the worker lives on);
* ``RLIMIT_AS`` makes an allocation beyond the memory budget fail with ``MemoryError``;
* ``RLIMIT_CPU`` kills the worker after its lifetime's CPU, even if the service is gone;
* the service kills the worker when no answer came within the wall-clock budget (a single
  C-level operation cannot be interrupted by a signal handler).
"""

import gc
import json
import resource
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

MAX_RESULT_BYTES = 1_000_000


def _line_of(exc: BaseException) -> str:
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == "<bpmn>"]
    return f"line {lines[-1]}: " if lines else ""


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    cpu_seconds, memory_bytes, lifetime = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from app import sandbox  # imported before the limits: the interpreter's own needs are not the script's

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (lifetime, lifetime))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the service, which closes our stdin

    def out_of_time(signum, frame):
        raise sandbox.LimitExceeded(f"the script used more than {cpu_seconds:g} s of CPU time")

    signal.signal(signal.SIGPROF, out_of_time)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(b'{"ready": true}\n')
    stdout.flush()
    job: Any = None  # a JSON object from the service
    result: sandbox.ScriptResult | None = None
    for line in stdin:
        try:
            signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
            try:
                job = json.loads(line)
                result = sandbox.execute(job["script"], job["data"], json.loads(line)["data"])
                answer = json.dumps({"ok": True, "data": result.changed}, ensure_ascii=False)
                if len(answer) > MAX_RESULT_BYTES:
                    raise sandbox.LimitExceeded(f"the script's data exceeded {MAX_RESULT_BYTES} bytes")
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
        except sandbox.LimitExceeded as exc:
            answer = json.dumps({"ok": False, "limit": True, "error": f"{_line_of(exc)}{exc}"})
        except MemoryError as exc:
            answer = json.dumps(
                {
                    "ok": False,
                    "limit": True,
                    "error": f"{_line_of(exc)}the script needed more than {memory_bytes // 2**20} MB",
                }
            )
        except RecursionError as exc:
            answer = json.dumps({"ok": False, "limit": True, "error": f"{_line_of(exc)}recursion too deep"})
        except (
            Exception
        ) as exc:  # the script's own failure (NameError, ZeroDivisionError…), reported, not raised
            answer = json.dumps(
                {"ok": False, "limit": False, "error": f"{_line_of(exc)}{type(exc).__name__}: {exc}"[:2000]}
            )
        retiring = _cpu_used() > lifetime - 2 * cpu_seconds - 1
        if retiring:
            answer = answer[:-1] + ', "retiring": true}'
        stdout.write(answer.encode() + b"\n")
        stdout.flush()
        if not answer.startswith('{"ok": true'):
            job = result = None
            gc.collect()  # after a failure (a MemoryError above all), give the memory back now
        if retiring:
            return


if __name__ == "__main__":
    main()
