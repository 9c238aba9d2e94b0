"""A case in the engine: loaded from its saved state, changed by one call, saved again (``Outcome``);
scripts and expressions run bounded, timers on the service clock."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.defaults import UserTask
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from app import clock, sandbox, script_pool
from app.engine.model import (
    EngineError,
    Outcome,
    PendingTimer,
    ProcessModel,
    ReadyStep,
    ScriptLimitError,
    TimerValueError,
)
from app.engine.parsing import _flatten
from app.engine.state import _pack, _registry, _serializer, _unpack
from app.engine.timers import BoundedTimersScriptEngine


class _ServiceClockDatetime(datetime):
    """SpiffWorkflow's timers call ``datetime.now(timezone.utc)`` themselves; route that to the service clock."""

    # A plain datetime, not this class (datetime.now's stub promises Self): only SpiffWorkflow's timer
    # module calls it, and what it gets is compared and formatted like any datetime.
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        current = clock.now()
        return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)


_spiff_timer.datetime = _ServiceClockDatetime


class _RestrictedEnvironment(TaskDataEnvironment):
    """Conditions, timers and DMN entries run in ``app.sandbox``'s bounded evaluator, in this
    process; scripts run in a worker process (``app.script_pool``). Never plain eval/exec."""

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> Any:
        try:
            return sandbox.evaluate(expression, {**self.globals, **(external_context or {}), **context})
        except sandbox.LimitExceeded as exc:
            raise ScriptLimitError(f"expression {expression.strip()[:80]!r}: {exc}") from exc
        except sandbox.ExpressionError as exc:
            raise EngineError(f"expression {expression!r}: {exc}") from exc

    def execute(
        self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> bool:
        self.check_for_overwrite(context, external_context or {})
        external = external_context or {}
        # The worker gets data only: the service's functions (working_days…) are for expressions.
        data = {key: value for key, value in {**external, **context}.items() if not callable(value)}
        try:
            sandbox.compile_script(script)
            changed = script_pool.run(script, data)
        except sandbox.LimitExceeded as exc:
            raise ScriptLimitError(f"script: {exc}") from exc
        except sandbox.ExpressionError as exc:
            raise EngineError(f"script: {exc}") from exc
        # What the script created or changed becomes task data.
        context.update(
            {key: value for key, value in changed.items() if key not in self.globals and key not in external}
        )
        return True


def _failure(exc: SpiffWorkflowException) -> EngineError:
    """SpiffWorkflow wraps what our environment raised; a bound that was hit stays recognisable."""
    cause, depth = exc, 0
    while cause is not None and depth < 10:
        if isinstance(cause, TimerValueError):
            return cause
        if isinstance(cause, ScriptLimitError):
            task = getattr(exc, "task", None)
            where = f"{task.task_spec.name}: " if task is not None else ""
            return ScriptLimitError(f"{where}{cause}")
        cause, depth = getattr(cause, "exception", None) or cause.__cause__ or cause.__context__, depth + 1
    return EngineError(str(exc))


def _script_engine(functions: dict[str, Any] | None) -> PythonScriptEngine:
    # The script engine is not part of saved state: it is set after every load, with the
    # functions the service offers to expressions (e.g. working_days(N) in timers).
    return BoundedTimersScriptEngine(environment=_RestrictedEnvironment(dict(functions or {})))


NEVER = "2999-12-31T00:00:00+00:00"  # the due time a held timer shows SpiffWorkflow during a change


class Case:
    """One running workflow, loaded for exactly one change."""

    def __init__(self, model: ProcessModel, workflow: BpmnWorkflow, functions: dict[str, Any] | None = None):
        self.model = model
        self._wf = workflow
        self._wf.script_engine = _script_engine(functions)
        self._open_before = {str(t.id) for t in self._ready_user_tasks()}
        self._timers_before = {t.engine_task_id for t in self.pending_timers()}
        self._messages_before = self.waiting_messages()
        self._held_timers: frozenset[str] = frozenset()

    def hold_timers(self, engine_task_ids: Iterable[str]) -> None:
        """Timers set aside (their step failed) that no change of this case may fire, due or not,
        until an administrator sends them round again."""
        self._held_timers = frozenset(engine_task_ids)

    @classmethod
    def start(
        cls, model: ProcessModel, data: dict[str, Any], functions: dict[str, Any] | None = None
    ) -> Case:
        wf = BpmnWorkflow(model._spec, model._subprocess_specs)
        case = cls(model, wf, functions)
        wf.get_tasks(state=TaskState.READY)[0].set_data(**copy.deepcopy(data))
        case._run()
        return case

    @classmethod
    def load(
        cls, model: ProcessModel, state: dict[str, Any], functions: dict[str, Any] | None = None
    ) -> Case:
        dct = _unpack(state)
        _serializer.migrate(dct)
        # Unregistered objects pass through restore unchanged, so the cached spec objects are reused.
        dct["spec"] = model._spec
        dct["subprocess_specs"] = model._subprocess_specs
        return cls(model, _serializer.from_dict(dct), functions)

    def _run(self) -> None:
        # SpiffWorkflow fires every due timer it passes while it runs; a held one is made to look
        # not yet due for the run and gets its own due time back afterwards (before anything saves it).
        held = {
            str(t.id): t
            for t in self._waiting_catchers()
            if str(t.id) in self._held_timers and isinstance(t.internal_data.get("event_value"), str)
        }
        due = {key: task.internal_data.get("event_value") for key, task in held.items()}
        for task in held.values():
            task.internal_data["event_value"] = NEVER
        try:
            self._wf.do_engine_steps()
        except SpiffWorkflowException as exc:
            raise _failure(exc) from exc
        finally:
            for key, task in held.items():
                task.internal_data["event_value"] = due[key]

    def _ready_user_tasks(self) -> list[SpiffTask]:
        return [t for t in self._wf.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, UserTask)]

    def is_ready(self, engine_task_id: str) -> bool:
        return engine_task_id in {str(t.id) for t in self._ready_user_tasks()}

    def complete(self, engine_task_id: str, data: dict[str, Any]) -> None:
        task = next((t for t in self._ready_user_tasks() if str(t.id) == engine_task_id), None)
        if task is None:
            raise EngineError(f"task {engine_task_id} is not ready")
        task.set_data(**copy.deepcopy(data))
        try:
            task.run()
        except SpiffWorkflowException as exc:
            raise _failure(exc) from exc
        self._run()

    def _task(self, engine_task_id: str) -> SpiffTask:
        try:
            return self._wf.get_task_from_id(uuid.UUID(engine_task_id))
        except (ValueError, SpiffWorkflowException) as exc:
            raise EngineError(f"no task {engine_task_id} in this case") from exc

    def return_targets(self, engine_task_id: str) -> list[tuple[str, str]]:
        """Human steps already done on this step's own path (its ancestors, so never a later step
        nor a parallel branch), nearest first, one per step: (engine task id, step id)."""
        task = self._task(engine_task_id)
        found, seen = [], {task.task_spec.name}
        node = task.parent
        while node is not None:
            name = node.task_spec.name
            if name in self.model.steps and node.state == TaskState.COMPLETED and name not in seen:
                found.append((str(node.id), name))
                seen.add(name)
            node = node.parent
        return found

    def reset_to(self, engine_task_id: str) -> None:
        """Run the case again from a step it already passed: everything after it is dropped
        (open steps, timers, waits) and the step opens again."""
        self._task(engine_task_id)
        try:
            dropped = self._wf.reset_from_task_id(uuid.UUID(engine_task_id))
        except SpiffWorkflowException as exc:
            raise _failure(exc) from exc
        # SpiffWorkflow drops the tasks from the tree but its event manager still holds the
        # waiting catchers among them (a notice's timer, an objection boundary): the next timer
        # refresh would meet a task without a parent. Forget them with the branch.
        for dropped_task in dropped:
            self._wf.event_manager.remove_task(dropped_task)
        live = set(self._wf.tasks).union(*(set(sp.tasks) for sp in self._wf.subprocesses.values()))
        for waiting_id in [tid for tid in self._wf.event_manager.tasks if tid not in live]:
            self._wf.event_manager.tasks.pop(waiting_id, None)
        self._run()

    def cancel(self) -> None:
        self._wf.cancel()

    def data_of(self, engine_task_id: str) -> dict[str, Any]:
        """A step's data as it completed: the case's data with the step's own answers."""
        return copy.deepcopy(self._task(engine_task_id).data)

    def fire_due_timers(self) -> None:
        self._wf.refresh_timers()
        self._run()

    def fire_timer(self, engine_task_id: str) -> None:
        """Fire one waiting timer if it is due — not every due timer of the case: another may have been
        set aside (it failed) and must wait for an administrator's retry."""
        task = self._task(engine_task_id)
        if task is None or task.state != TaskState.WAITING:
            raise EngineError(f"timer {engine_task_id} is not waiting in this case")
        if engine_task_id in self._held_timers:
            raise EngineError(f"timer {engine_task_id} is set aside")
        task.task_spec._update(task)
        self._run()

    def deliver_message(self, name: str, payload: dict[str, Any]) -> bool:
        definition = self.model._messages.get(name)
        if definition is None or name not in self.waiting_messages():
            return False
        self._wf.catch(BpmnEvent(definition, copy.deepcopy(payload)))
        self._run()
        return True

    def _waiting_catchers(self) -> list[SpiffTask]:
        return [
            t for t in self._wf.get_tasks(state=TaskState.WAITING) if isinstance(t.task_spec, CatchingEvent)
        ]

    def waiting_messages(self) -> set[str]:
        return {
            d.name
            for t in self._waiting_catchers()
            for d in _flatten(t.task_spec.event_definition)
            if isinstance(d, MessageEventDefinition)
        }

    def pending_timers(self) -> list[PendingTimer]:
        timers = []
        for t in self._waiting_catchers():
            definitions = [
                d for d in _flatten(t.task_spec.event_definition) if isinstance(d, TimerEventDefinition)
            ]
            value = t.internal_data.get("event_value")
            if definitions and isinstance(value, str):
                due = TimerEventDefinition.get_datetime(value)
                timers.append(
                    PendingTimer(
                        str(t.id),
                        t.task_spec.name,
                        datetime.fromtimestamp(due.timestamp(), UTC),
                        definitions[0].expression,
                    )
                )
        return timers

    def new_timers(self) -> list[PendingTimer]:
        """Timers the case started waiting on since it was loaded."""
        return [t for t in self.pending_timers() if t.engine_task_id not in self._timers_before]

    def migrate_to(self, new: ProcessModel, step_mapping: dict[str, str]) -> dict[str, Any]:
        """Move this case onto another version of its process.

        Steps keep their identity by BPMN id (or ``step_mapping`` for renamed ones). Open steps
        and waiting timers are re-planned by SpiffWorkflow, which would restart a timer from
        now: every timer keeps its original end instead (a public notice must not grow).
        Returns how engine task ids of open steps and timers changed; raises ``EngineError``
        with the reason when the case cannot move.
        """
        diff = SpecDiff(_registry, self._wf.spec, new._spec)
        for old_name, new_name in step_mapping.items():
            old_spec, new_spec = self._wf.spec.task_specs.get(old_name), new._spec.task_specs.get(new_name)
            if old_spec is None or new_spec is None:
                raise EngineError(
                    f"task_mapping {old_name!r} → {new_name!r} names a step that does not exist"
                )
            diff.alignment[old_spec] = new_spec
        stuck = sorted(
            {
                t.task_spec.name
                for t in self._wf.get_tasks(
                    state=TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED,
                    skip_subprocesses=True,
                )
                if diff.alignment.get(t.task_spec) is None and t.task_spec.name in self.model.element_lines
            }
        )
        if stuck:
            raise EngineError(
                f"steps {stuck} (done or in progress) do not exist in the new version; map them"
            )
        ready_before = {str(t.id): t.task_spec.name for t in self._ready_user_tasks()}
        timers_before = {t.name: (t.engine_task_id, t.due_at) for t in self.pending_timers()}
        migrate_workflow(WorkflowDiff(self._wf, diff), self._wf, new._spec)
        self._wf.subprocess_specs = new._subprocess_specs
        self.model = new
        self._run()
        known = set(new._spec.task_specs.values())
        if any(t.task_spec not in known for t in self._wf.get_tasks(skip_subprocesses=True)):
            raise EngineError("the case could not be re-planned on the new version")
        ready_after = {t.task_spec.name: str(t.id) for t in self._ready_user_tasks()}
        tasks = {}
        for old_id, old_name in ready_before.items():
            name = step_mapping.get(old_name, old_name)
            if name not in ready_after:
                raise EngineError(f"open step {old_name!r} is not open after the move")
            tasks[old_id] = (ready_after[name], name)
        timers = {}
        for timer in self.pending_timers():
            old = timers_before.get(timer.name) or timers_before.get(
                next((o for o, n in step_mapping.items() if n == timer.name), "")
            )
            if old is not None:
                self.reschedule_timer(timer.engine_task_id, old[1])
                timers[old[0]] = timer.engine_task_id
        # What the move changed is reported above; it is not a change of the case's progress.
        self._open_before = set(ready_after.values())
        self._timers_before = {t.engine_task_id for t in self.pending_timers()}
        self._messages_before = self.waiting_messages()
        return {"tasks": tasks, "timers": timers}

    def reschedule_timer(self, engine_task_id: str, due_at: datetime) -> None:
        """Move a waiting timer (e.g. after the calendar of its year was published)."""
        task = next(t for t in self._waiting_catchers() if str(t.id) == engine_task_id)
        task.internal_data["event_value"] = due_at.isoformat()

    def outcome(self) -> Outcome:
        ready = [ReadyStep(str(t.id), self.model.steps[t.task_spec.name]) for t in self._ready_user_tasks()]
        ready_ids = {r.engine_task_id for r in ready}
        end_outcome = end_event = None
        data = {}
        completed = self._wf.completed
        if completed:
            ends = [
                t for t in self._wf.get_tasks(state=TaskState.COMPLETED) if isinstance(t.task_spec, EndEvent)
            ]
            if ends:
                last = max(ends, key=lambda t: t.last_state_change)
                end_event = last.task_spec.name
                end_outcome = self.model.element_properties.get(end_event, {}).get("outcome")
                data = copy.deepcopy(last.data)
        timers = self.pending_timers()
        messages = self.waiting_messages()
        state = _serializer.to_dict(self._wf)
        state[_serializer.VERSION_KEY] = _serializer.VERSION
        state = _pack(state)
        return Outcome(
            state=state,
            opened=[r for r in ready if r.engine_task_id not in self._open_before],
            closed_engine_task_ids=self._open_before - ready_ids,
            timers_added=[t for t in timers if t.engine_task_id not in self._timers_before],
            timers_removed=self._timers_before - {t.engine_task_id for t in timers},
            messages_added=messages - self._messages_before,
            messages_removed=self._messages_before - messages,
            completed=completed,
            end_outcome=end_outcome,
            end_event=end_event,
            data=data,
            ready_engine_task_ids=frozenset(ready_ids),
        )
