"""Reading an uploaded BPMN file: safe XML, SpiffWorkflow's parser, decisions, and the structural
checks of the engine (gateways, messages, timers); ``model_for`` caches a parsed version."""

from __future__ import annotations

from functools import lru_cache

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.defaults import UserTask

from app.engine.model import BPMN_NS, CAMUNDA_NS, DMN_NAMESPACES, SPIFF_NS, BpmnError, ProcessModel, Step


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
