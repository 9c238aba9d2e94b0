"""What the rest of the service sees of a process and of a change: steps, the process model, the
outcome of a change, and the engine's errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
)


class BpmnError(Exception):
    """The file is not an executable BPMN process; ``errors`` lists each problem."""

    def __init__(self, errors: list[dict[str, Any]], model: ProcessModel | None = None):
        super().__init__("; ".join(str(e["message"]) for e in errors))
        self.errors = errors
        # The process as far as it could be read, for the service's own checks; None when unreadable.
        self.model = model


class EngineError(Exception):
    """The engine refused a step (a failing expression, a gateway with no way out)."""


class ScriptLimitError(EngineError):
    """A condition, expression or script went beyond its bound (size, CPU time, memory)."""


class TimerValueError(EngineError):
    """A timer's expression gave, when the case reached it, a value the service will not wait on:
    not a date, duration or cycle, or beyond ``engine.timers.MAX_TIMER_DAYS``. ``reason`` says why
    in the service's own words, without the value (it comes from the case's data)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Step:
    """A user task as the rest of the service sees it."""

    id: str
    title: str
    role: str | None
    properties: dict[str, str]


@dataclass
class ProcessModel:
    key: str
    name: str
    properties: dict[str, str]
    steps: dict[str, Step]
    message_names: frozenset[str]
    # message name → form (JSON Schema file) its payload must satisfy, from the catching event
    message_forms: dict[str, str]
    # element id → properties, for every element (catch events carry message forms, end events outcomes)
    element_properties: dict[str, dict[str, str]]
    # element id → its lane's role (the lane's ``role`` property, else its name), for every element in a lane
    element_lanes: dict[str, str]
    # element id → line in the file, for error reports
    element_lines: dict[str, int]
    # (element id, what, source) of every condition, timer expression and script
    expressions: list[tuple[str, str, str]]
    end_events: list[str]
    # Forms declared inside the file (Camunda's formData), by the name steps refer to them with
    inline_forms: dict[str, dict[str, Any]]
    _spec: Any = field(repr=False)  # SpiffWorkflow's BpmnProcessSpec (untyped)
    _subprocess_specs: dict[str, Any] = field(repr=False)
    _messages: dict[str, Any] = field(repr=False)
    # message name → properties of the message and of the event catching it (``senders``, ``form``, ``keep_early``…)
    message_properties: dict[str, dict[str, str]] = field(default_factory=dict)
    # element id → its BPMN tag without the namespace (``process``, ``userTask``, ``endEvent``…)
    element_tags: dict[str, str] = field(default_factory=dict)
    # bpmn:message id → (message name, line, the message's own properties)
    message_declarations: dict[str, tuple[str, int | None, dict[str, str]]] = field(default_factory=dict)

    @property
    def runs_scripts(self) -> bool:
        """Whether a change of a case may run a script (in a worker process, waiting for it)."""
        return any(what == "script" for _, what, _ in self.expressions)


@dataclass(frozen=True)
class ReadyStep:
    engine_task_id: str
    step: Step


@dataclass(frozen=True)
class PendingTimer:
    engine_task_id: str
    name: str
    due_at: datetime
    expression: str


@dataclass
class Outcome:
    """What a change did to a case, for the caller to persist."""

    state: dict[str, Any]
    # Human steps that became ready with this change.
    opened: list[ReadyStep]
    # Human steps that were open before the change and are no longer ready (completed or cancelled).
    closed_engine_task_ids: set[str]
    timers_added: list[PendingTimer]
    # Timers the case waited on before and no longer does (fired, or passed by another branch).
    timers_removed: set[str]
    messages_added: set[str]
    messages_removed: set[str]
    completed: bool
    end_outcome: str | None
    # The end event reached and the case's data there (amounts, decisions), when completed.
    end_event: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Every human step ready after the change (those it opened and those open before it).
    ready_engine_task_ids: frozenset[str] = frozenset()
