"""The engine adapter: the only module that imports SpiffWorkflow.

Everything else speaks of process models, steps, timers and messages.  A case is loaded
from its saved state, changed by one call (complete a step, fire timers, deliver a
message), and saved again; the caller persists the returned ``Outcome`` in the same
transaction.  Saved state never embeds the spec: it is ~4 KB instead of ~16 KB and the
spec comes from the per-version cache.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from lxml import etree
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import UserTask
from SpiffWorkflow.util.task import TaskState

from app import clock, sandbox, script_pool

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
)


class _ServiceClockDatetime(datetime):
    """SpiffWorkflow's timers call ``datetime.now(timezone.utc)`` themselves; route that to the service clock."""

    @classmethod
    def now(cls, tz=None):
        current = clock.now()
        return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)


_spiff_timer.datetime = _ServiceClockDatetime


class BpmnError(Exception):
    """The file is not an executable BPMN process; ``errors`` lists each problem."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


class EngineError(Exception):
    """The engine refused a step (a failing expression, a gateway with no way out)."""


class ScriptLimitError(EngineError):
    """A condition, expression or script went beyond its bound (size, CPU time, memory)."""


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
    # element id → lane name (a role key), for every element placed in a lane
    element_lanes: dict[str, str]
    # element id → line in the file, for error reports
    element_lines: dict[str, int]
    # (element id, what, source) of every condition, timer expression and script
    expressions: list[tuple[str, str, str]]
    end_events: list[str]
    # Forms declared inside the file (Camunda's formData), by the name steps refer to them with
    inline_forms: dict[str, dict]
    _spec: object = field(repr=False)
    _subprocess_specs: dict = field(repr=False)
    _messages: dict = field(repr=False)
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

    state: dict
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
    data: dict = field(default_factory=dict)
    # Every human step ready after the change (those it opened and those open before it).
    ready_engine_task_ids: frozenset[str] = frozenset()


def _safe_xml_parser() -> etree.XMLParser:
    # No entity expansion, no DTD, no network: hostile XML (XXE, billion laughs) goes nowhere.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def _properties_of(element) -> dict[str, str]:
    props = {}
    for ns in (SPIFF_NS, CAMUNDA_NS):
        for prop in element.iterfind(f"./{{{BPMN_NS}}}extensionElements/{{{ns}}}properties/{{{ns}}}property"):
            if prop.get("name"):
                props[prop.get("name")] = prop.get("value", "")
    return props


def _parse_xml(xml: bytes):
    try:
        return etree.fromstring(xml, parser=_safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise BpmnError(
            [{"line": exc.lineno, "element_id": None, "code": "xml_syntax", "message": str(exc)}]
        ) from exc


def decision_refs(xml: bytes) -> dict[str, str]:
    """Business rule task id → the DMN decision id it calls (``spiffworkflow:calledDecisionId``)."""
    root = _parse_xml(xml)
    refs = {}
    for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        called = task.find(f"./{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId")
        refs[task.get("id")] = (called.text or "").strip() if called is not None else ""
    return refs


def _add_decisions(parser: SpiffBpmnParser, decisions: dict[str, bytes]) -> list[tuple[str, str, str]]:
    """Load DMN tables into the parser; returns their expressions (decision id, what, source) for checking."""
    expressions = []
    for name, dmn in sorted(decisions.items()):
        root = _parse_xml(dmn)
        if root.tag not in {f"{{{ns}}}definitions" for ns in DMN_NAMESPACES}:
            raise BpmnError(
                [
                    {
                        "line": root.sourceline,
                        "element_id": name,
                        "code": "invalid_dmn",
                        "message": f"decision file {name!r} is not DMN 1.1–1.3 (root must be dmn:definitions)",
                    }
                ]
            )
        try:
            parser.add_dmn_xml(root, filename=f"{name}.dmn")
        except (ValidationException, SpiffWorkflowException, ValueError, KeyError, AttributeError) as exc:
            raise BpmnError(
                [
                    {
                        "line": None,
                        "element_id": name,
                        "code": "invalid_dmn",
                        "message": str(exc).splitlines()[0],
                    }
                ]
            ) from exc
        ns = root.tag[1:].split("}")[0]
        for tag, what in (
            ("inputExpression", "dmn_input"),
            ("outputEntry", "dmn_output"),
            ("inputEntry", "dmn_match"),
        ):
            for element in root.iter(f"{{{ns}}}{tag}"):
                text = element.findtext(f"{{{ns}}}text")
                if text and text.strip() and text.strip() != "-":
                    expressions.append((name, what, text))
    return expressions


def parse_bpmn(xml: bytes, decisions: dict[str, bytes] | None = None) -> ProcessModel:
    """Parse one BPMN file holding one executable process (and the DMN tables its business rule
    tasks call); raise ``BpmnError`` with every problem found."""
    root = _parse_xml(xml)
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise BpmnError(
            [
                {
                    "line": root.sourceline,
                    "element_id": None,
                    "code": "not_bpmn",
                    "message": "the document is not BPMN 2.0 (root must be bpmn:definitions)",
                }
            ]
        )
    processes = [p for p in root.iterfind(f"{{{BPMN_NS}}}process") if p.get("isExecutable") == "true"]
    if len(processes) != 1:
        raise BpmnError(
            [
                {
                    "line": root.sourceline,
                    "element_id": None,
                    "code": "process_count",
                    "message": f"expected exactly one executable process, found {len(processes)}",
                }
            ]
        )
    process = processes[0]
    structural = _gateway_problems(process) + _message_problems(root, process)
    if structural:
        raise BpmnError(structural)
    key = process.get("id")
    parser = SpiffBpmnParser()
    decision_expressions = _add_decisions(parser, decisions or {})
    try:
        parser.add_bpmn_xml(etree.ElementTree(root), filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        raise BpmnError(
            [
                {
                    "line": getattr(exc, "line_number", None) or None,
                    "element_id": getattr(exc, "id", None),
                    "code": "invalid_bpmn",
                    "message": str(exc).splitlines()[0],
                }
            ]
        ) from exc
    except (SpiffWorkflowException, ValueError, KeyError, AttributeError) as exc:
        raise BpmnError(
            [{"line": None, "element_id": None, "code": "invalid_bpmn", "message": str(exc)}]
        ) from exc

    element_properties = {el.get("id"): _properties_of(el) for el in process.iter() if el.get("id")}
    inline_forms = _camunda_user_tasks(process, element_properties)
    candidate_groups = {
        el.get("id"): el.get(f"{{{CAMUNDA_NS}}}candidateGroups")
        for el in process.iter(f"{{{BPMN_NS}}}userTask")
    }
    steps: dict[str, Step] = {}
    messages: dict[str, MessageEventDefinition] = {}
    message_forms: dict[str, str] = {}
    message_properties: dict[str, dict[str, str]] = {}
    for name, task_spec in spec.task_specs.items():
        if isinstance(task_spec, UserTask):
            role = task_spec.lane or candidate_groups.get(name)
            steps[name] = Step(name, task_spec.bpmn_name or name, role, element_properties.get(name, {}))
        if isinstance(task_spec, CatchingEvent):
            for definition in _flatten(task_spec.event_definition):
                if isinstance(definition, MessageEventDefinition):
                    messages[definition.name] = definition
    # Catch events after an event-based gateway hold no definition of their own in the spec,
    # so the form of a message's payload is read from the XML.
    message_names = {
        m.get("id"): m.get("name") or m.get("id") for m in root.iterfind(f"{{{BPMN_NS}}}message")
    }
    # Properties of the message itself (``senders``) hold wherever it is caught, or when no event
    # catches it (``enrolment_messages``); a catching event's own properties come on top.
    for message in root.iterfind(f"{{{BPMN_NS}}}message"):
        if props := _properties_of(message):
            message_properties.setdefault(message_names[message.get("id")], {}).update(props)
    for definition in process.iter(f"{{{BPMN_NS}}}messageEventDefinition"):
        props = element_properties.get(definition.getparent().get("id"), {})
        form = props.get("form")
        if form and definition.get("messageRef") in message_names:
            message_forms[message_names[definition.get("messageRef")]] = form
        if definition.get("messageRef") in message_names:
            message_properties.setdefault(message_names[definition.get("messageRef")], {}).update(props)
    properties = _properties_of(process)
    # Camunda Modeler declares starters as an attribute; AidFlow's own property wins when both exist.
    if "starters" not in properties and process.get(f"{{{CAMUNDA_NS}}}candidateStarterGroups"):
        properties["starters"] = process.get(f"{{{CAMUNDA_NS}}}candidateStarterGroups")
    return ProcessModel(
        key=key,
        name=process.get("name") or key,
        properties=properties,
        steps=steps,
        message_names=frozenset(messages),
        message_forms=message_forms,
        element_properties=element_properties,
        element_lanes={name: ts.lane for name, ts in spec.task_specs.items() if getattr(ts, "lane", None)},
        element_lines={el.get("id"): el.sourceline for el in process.iter() if el.get("id")},
        expressions=_expressions(process) + decision_expressions,
        end_events=[e.get("id") for e in process.iter(f"{{{BPMN_NS}}}endEvent")],
        inline_forms=inline_forms,
        _spec=spec,
        _subprocess_specs=subprocess_specs,
        _messages=messages,
        message_properties=message_properties,
        element_tags={el.get("id"): etree.QName(el).localname for el in process.iter() if el.get("id")},
        message_declarations={
            m.get("id"): (message_names[m.get("id")], m.sourceline, _properties_of(m))
            for m in root.iterfind(f"{{{BPMN_NS}}}message")
        },
    )


_FORM_TYPES = {
    "string": {"type": "string"},
    "long": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
}


def _camunda_user_tasks(process, element_properties: dict[str, dict[str, str]]) -> dict[str, dict]:
    """Read what Camunda Modeler writes on user tasks into AidFlow's own properties:
    ``formKey`` (a form file) and ``formData`` (an inline form) → ``form``; an ISO-duration
    ``dueDate`` → ``time_limit``. AidFlow's own properties win when both are given."""
    forms = {}
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        props = element_properties.setdefault(task.get("id"), {})
        form_key = task.get(f"{{{CAMUNDA_NS}}}formKey")
        if form_key and "form" not in props:
            props["form"] = form_key.replace(":", "/").rsplit("/", 1)[-1]
        due = task.get(f"{{{CAMUNDA_NS}}}dueDate")
        if due and due.strip().upper().startswith("P") and "time_limit" not in props:
            props["time_limit"] = due.strip().upper()
        fields = list(
            task.iterfind(
                f"./{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}formData/{{{CAMUNDA_NS}}}formField"
            )
        )
        if fields and "form" not in props:
            schema = {
                "title": task.get("name") or task.get("id"),
                "type": "object",
                "properties": {},
                "required": [],
                "additionalProperties": False,
            }
            for field in fields:
                values = [v.get("id") for v in field.iterfind(f"{{{CAMUNDA_NS}}}value")]
                spec = (
                    {"type": "string", "enum": values}
                    if field.get("type") == "enum"
                    else dict(_FORM_TYPES.get(field.get("type"), {"type": "string"}))
                )
                schema["properties"][field.get("id")] = {
                    "title": field.get("label") or field.get("id"),
                    **spec,
                }
                if any(c.get("name") == "required" for c in field.iter(f"{{{CAMUNDA_NS}}}constraint")):
                    schema["required"].append(field.get("id"))
            props["form"] = f"{task.get('id')}.formData"
            forms[props["form"]] = schema
    return forms


def _gateway_problems(process) -> list[dict]:
    """Exclusive and inclusive gateways with several ways out need a condition on each, or a default."""
    flows = {f.get("id"): f for f in process.iter(f"{{{BPMN_NS}}}sequenceFlow")}
    problems = []
    for kind in ("exclusiveGateway", "inclusiveGateway"):
        for gateway in process.iter(f"{{{BPMN_NS}}}{kind}"):
            outgoing = [f for f in flows.values() if f.get("sourceRef") == gateway.get("id")]
            if len(outgoing) < 2:
                continue
            for flow in outgoing:
                if (
                    flow.get("id") != gateway.get("default")
                    and flow.find(f"{{{BPMN_NS}}}conditionExpression") is None
                ):
                    problems.append(
                        {
                            "line": flow.sourceline,
                            "element_id": flow.get("id"),
                            "code": "flow_without_condition",
                            "message": f"flow {flow.get('id')!r} leaves gateway {gateway.get('id')!r} "
                            "with no condition and is not its default",
                        }
                    )
    return problems


def _message_problems(root, process) -> list[dict]:
    """Every message a case may wait for needs a name the service can route (POST /messages)."""
    names = {m.get("id"): m.get("name") for m in root.iterfind(f"{{{BPMN_NS}}}message")}
    problems = []
    for definition in process.iter(f"{{{BPMN_NS}}}messageEventDefinition"):
        ref = definition.get("messageRef")
        if not ref or ref not in names or not (names[ref] or "").strip():
            owner = definition.getparent()
            problems.append(
                {
                    "line": definition.sourceline,
                    "element_id": owner.get("id"),
                    "code": "message_without_name",
                    "message": f"{owner.get('id')!r} waits for a message with no declared name",
                }
            )
    return problems


def _expressions(process) -> list[tuple[str, str, str]]:
    found = []
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
        if condition is not None and (condition.text or "").strip():
            found.append((flow.get("id"), "condition", condition.text))
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for timer in process.iter(f"{{{BPMN_NS}}}{tag}"):
            owner = timer.getparent().getparent()
            found.append((owner.get("id"), "timer", timer.text or ""))
    for script in process.iter(f"{{{BPMN_NS}}}script"):
        found.append((script.getparent().get("id"), "script", script.text or ""))
    for tag in ("preScript", "postScript"):
        for script in process.iter(f"{{{SPIFF_NS}}}{tag}"):
            owner = script.getparent().getparent()
            if (script.text or "").strip():
                found.append((owner.get("id"), "script", script.text))
    return found


def timer_literal_problem(source: str) -> str | None:
    """For a timer written as a plain string ("P7D", "2030-01-01T00:00:00+08:00"), why it would not parse."""
    import ast

    try:
        value = ast.literal_eval(source.strip())
    except (ValueError, SyntaxError):
        return None  # an expression (e.g. working_days(5)): checked when it compiles and when it runs
    if not isinstance(value, str):
        return f"timer value {value!r} is not a string"
    try:
        if value.upper().startswith("R"):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            TimerEventDefinition.parse_time_or_duration(value)
    except Exception as exc:  # SpiffWorkflow raises bare Exception for a bad duration
        return f"timer {value!r} is not an ISO 8601 date, duration or cycle ({exc})"
    return None


def _flatten(definition) -> list:
    if isinstance(definition, MultipleEventDefinition):
        return [d for sub in definition.event_definitions for d in _flatten(sub)]
    return [definition]


@lru_cache(maxsize=256)
def model_for(definition_id: int, xml: str, decisions: tuple[tuple[str, str], ...] = ()) -> ProcessModel:
    """Parsed models are immutable and cached per deployed definition version."""
    return parse_bpmn(xml.encode("utf-8"), {name: dmn.encode("utf-8") for name, dmn in decisions})


# Saved state is SpiffWorkflow's own serialization, zlib-compressed: a case's task tree
# repeats the same keys for every task, so ~6 KB of JSON packs into ~1.5 KB.
STATE_FORMAT = "spiff-json+zlib+base64"


def _pack(state: dict) -> dict:
    raw = json.dumps(state, separators=(",", ":")).encode()
    return {
        "format": STATE_FORMAT,
        "serializer_version": state[_serializer.VERSION_KEY],
        "data": base64.b64encode(zlib.compress(raw, 6)).decode("ascii"),
    }


def _unpack(state: dict) -> dict:
    if state.get("format") != STATE_FORMAT:
        raise EngineError(f"unknown saved state format {state.get('format')!r}")
    return json.loads(zlib.decompress(base64.b64decode(state["data"])))


class _StateConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's own workflow serialization without the spec: the definition holds it (a saved
    state never carries it, ``Case.load`` puts the cached one back), so it is never converted only
    to be thrown away."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


_registry = BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: _StateConverter})
_serializer = BpmnWorkflowSerializer(_registry)


class _RestrictedEnvironment(TaskDataEnvironment):
    """Conditions, timers and DMN entries run in ``app.sandbox``'s bounded evaluator, in this
    process; scripts run in a worker process (``app.script_pool``). Never plain eval/exec."""

    def evaluate(self, expression, context, external_context=None):
        try:
            return sandbox.evaluate(expression, {**self.globals, **(external_context or {}), **context})
        except sandbox.LimitExceeded as exc:
            raise ScriptLimitError(f"expression {expression.strip()[:80]!r}: {exc}") from exc
        except sandbox.ExpressionError as exc:
            raise EngineError(f"expression {expression!r}: {exc}") from exc

    def execute(self, script, context, external_context=None):
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
        for key, value in changed.items():
            if key not in self.globals and key not in external:
                context[key] = value
        return True


def _failure(exc: SpiffWorkflowException) -> EngineError:
    """SpiffWorkflow wraps what our environment raised; a bound that was hit stays recognisable."""
    cause, depth = exc, 0
    while cause is not None and depth < 10:
        if isinstance(cause, ScriptLimitError):
            task = getattr(exc, "task", None)
            where = f"{task.task_spec.name}: " if task is not None else ""
            return ScriptLimitError(f"{where}{cause}")
        cause, depth = getattr(cause, "exception", None) or cause.__cause__ or cause.__context__, depth + 1
    return EngineError(str(exc))


def _script_engine(functions: dict | None) -> PythonScriptEngine:
    # The script engine is not part of saved state: it is set after every load, with the
    # functions the service offers to expressions (e.g. working_days(N) in timers).
    return PythonScriptEngine(environment=_RestrictedEnvironment(dict(functions or {})))


NEVER = "2999-12-31T00:00:00+00:00"  # the due time a held timer shows SpiffWorkflow during a change


class Case:
    """One running workflow, loaded for exactly one change."""

    def __init__(self, model: ProcessModel, workflow: BpmnWorkflow, functions: dict | None = None):
        self.model = model
        self._wf = workflow
        self._wf.script_engine = _script_engine(functions)
        self._open_before = {str(t.id) for t in self._ready_user_tasks()}
        self._timers_before = {t.engine_task_id for t in self.pending_timers()}
        self._messages_before = self.waiting_messages()
        self._held_timers: frozenset[str] = frozenset()

    def hold_timers(self, engine_task_ids) -> None:
        """Timers set aside (their step failed) that no change of this case may fire, due or not,
        until an administrator sends them round again."""
        self._held_timers = frozenset(engine_task_ids)

    @classmethod
    def start(cls, model: ProcessModel, data: dict, functions: dict | None = None) -> Case:
        wf = BpmnWorkflow(model._spec, model._subprocess_specs)
        case = cls(model, wf, functions)
        wf.get_tasks(state=TaskState.READY)[0].set_data(**copy.deepcopy(data))
        case._run()
        return case

    @classmethod
    def load(cls, model: ProcessModel, state: dict, functions: dict | None = None) -> Case:
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

    def _ready_user_tasks(self):
        return [t for t in self._wf.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, UserTask)]

    def is_ready(self, engine_task_id: str) -> bool:
        return engine_task_id in {str(t.id) for t in self._ready_user_tasks()}

    def complete(self, engine_task_id: str, data: dict) -> None:
        task = next((t for t in self._ready_user_tasks() if str(t.id) == engine_task_id), None)
        if task is None:
            raise EngineError(f"task {engine_task_id} is not ready")
        task.set_data(**copy.deepcopy(data))
        try:
            task.run()
        except SpiffWorkflowException as exc:
            raise _failure(exc) from exc
        self._run()

    def _task(self, engine_task_id: str):
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

    def data_of(self, engine_task_id: str) -> dict:
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

    def deliver_message(self, name: str, payload: dict) -> bool:
        definition = self.model._messages.get(name)
        if definition is None or name not in self.waiting_messages():
            return False
        self._wf.catch(BpmnEvent(definition, copy.deepcopy(payload)))
        self._run()
        return True

    def _waiting_catchers(self):
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

    def migrate_to(self, new: ProcessModel, step_mapping: dict[str, str]) -> dict:
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
