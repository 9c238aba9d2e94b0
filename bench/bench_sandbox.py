"""Benchmark: what bounding BPMN code costs on the completion path (engine only, no database).

Prints, from one run on one machine:
- a typical gateway condition evaluated on its own (µs per evaluation),
- one engine completion (load the saved case, complete a step, run to the next wait, outcome)
  of a process whose step leads to that gateway condition — the path of most completions,
- the same with a script task between step and gateway: the script runs in a worker process;
  CPU of the service's own process and wall clock, directly and through the thread hop the
  service makes for processes with scripts (``cases.run_engine``).

Run: ``.venv/bin/python bench/bench_sandbox.py``. Runs on older versions of ``app/`` too
(without worker processes), to compare before and after.
"""

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import engine, sandbox

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1000"))
CONDITION = 'decision == "approve" and monthly_amount &lt;= settings["township_limit"]'
DATA = {
    "decision": "approve",
    "monthly_amount": 600,
    "settings": {"township_limit": 1000},
    "household_size": 3,
    "applicant": {"name": "张三", "id_number": "34062119800101001X"},
}
PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="bench" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:userTask id="check" name="check" />
    SCRIPT_TASK
    <bpmn:exclusiveGateway id="gw" default="no_flow" />
    <bpmn:userTask id="approve" name="approve" />
    <bpmn:endEvent id="no" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check" />
    FLOWS
    <bpmn:sequenceFlow id="yes_flow" sourceRef="gw" targetRef="approve">
      <bpmn:conditionExpression>CONDITION</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no_flow" sourceRef="gw" targetRef="no" />
  </bpmn:process>
</bpmn:definitions>"""
DIRECT = '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="gw" />'
VIA_SCRIPT = (
    '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="compute" />'
    '<bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="gw" />'
)
SCRIPT = '<bpmn:scriptTask id="compute"><bpmn:script>yearly_amount = monthly_amount * 12</bpmn:script></bpmn:scriptTask>'


def model(with_script: bool) -> engine.ProcessModel:
    xml = (
        PROCESS.replace("CONDITION", CONDITION)
        .replace("SCRIPT_TASK", SCRIPT if with_script else "")
        .replace("FLOWS", VIA_SCRIPT if with_script else DIRECT)
    )
    return engine.parse_bpmn(xml.encode())


def completion(process: engine.ProcessModel):
    """A function completing the case's first step once, from the same saved state each time."""
    case = engine.Case.start(process, DATA)
    outcome = case.outcome()
    state, step = outcome.state, outcome.opened[0].engine_task_id

    def complete_once():
        loaded = engine.Case.load(process, state)
        loaded.complete(step, {"decision": "approve"})
        outcome = loaded.outcome()
        assert outcome.opened and outcome.opened[0].step.id == "approve", outcome.opened

    return complete_once


def measure(fn, rounds: int) -> tuple[float, float]:
    """(wall, CPU of this process) per call, in µs, best of three runs."""
    fn()
    best = (float("inf"), float("inf"))
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(rounds):
            fn()
        best = min(
            best, ((time.perf_counter() - wall) / rounds * 1e6, (time.process_time() - cpu) / rounds * 1e6)
        )
    return best


def main() -> None:
    condition = CONDITION.replace("&lt;", "<")
    if hasattr(sandbox, "evaluate"):
        evaluate = lambda: sandbox.evaluate(condition, DATA)  # noqa: E731
    else:  # before the bounded evaluator: RestrictedPython code run under a tracing time budget
        evaluate = lambda: sandbox.run(  # noqa: E731
            sandbox.compile_expression(condition), sandbox.namespace(DATA), evaluate=True
        )
    wall, cpu = measure(evaluate, ROUNDS * 20)
    print(f"gateway condition alone                    {cpu:8.1f} µs CPU")
    wall, cpu = measure(completion(model(False)), ROUNDS)
    print(f"completion → gateway condition             {cpu:8.1f} µs CPU   {wall:8.1f} µs wall")
    with_script = completion(model(True))
    wall, cpu = measure(with_script, ROUNDS)
    print(f"completion → script task → gateway         {cpu:8.1f} µs CPU   {wall:8.1f} µs wall")

    async def in_threads():
        for _ in range(ROUNDS):
            await asyncio.to_thread(with_script)

    started, cpu_started = time.perf_counter(), time.process_time()
    asyncio.run(in_threads())
    print(
        f"  the same through asyncio.to_thread       {(time.process_time() - cpu_started) / ROUNDS * 1e6:8.1f} µs CPU"
        f"   {(time.perf_counter() - started) / ROUNDS * 1e6:8.1f} µs wall"
    )


if __name__ == "__main__":
    main()
