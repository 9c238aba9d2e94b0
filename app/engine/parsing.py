"""Reading an uploaded BPMN file: safe XML, SpiffWorkflow's parser, decisions, and the structural
checks of the engine (gateways, messages, timers); ``model_for`` caches a parsed version."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.defaults import UserTask

from app.engine import checks, dialects
from app.engine.decisions import add_decisions
from app.engine.dialects import EXTENSION_NAMESPACES, Problem
from app.engine.model import BPMN_NS, SPIFF_NS, BpmnError, ProcessModel, Step
from app.engine.xmlread import _parse_xml


def _properties_of(element: etree._Element) -> dict[str, str]:
    props: dict[str, str] = {}
    for ns in (SPIFF_NS, *EXTENSION_NAMESPACES):
        for prop in element.iterfind(f"./{{{BPMN_NS}}}extensionElements/{{{ns}}}properties/{{{ns}}}property"):
            name = prop.get("name")
            if name:
                props[name] = prop.get("value", "")
    return props


def utf8_document(xml: bytes) -> bytes:
    """The file as UTF-8 (what is stored and parsed again later): a declared GBK, GB18030 or other
    encoding is decoded and its declaration rewritten; an encoding that cannot be read is a problem."""
    root = _parse_xml(xml)
    if root.getroottree().docinfo.doctype:
        # Inert here (no DTD is loaded, no entity expanded), but the file is served again to portals and
        # modelers, whose parsers might resolve its entities (file:///etc/passwd): not kept at all.
        message = "the file declares a DOCTYPE; BPMN needs none: delete the <!DOCTYPE …> line"
        raise BpmnError([{"line": 1, "element_id": None, "code": "doctype_not_allowed", "message": message}])
    declared = (root.getroottree().docinfo.encoding or "UTF-8").strip()
    if declared.replace("-", "").replace("_", "").lower() == "utf8" and not xml.startswith(b"\xef\xbb\xbf"):
        return xml
    try:
        text = xml.decode(declared)
    except (LookupError, UnicodeDecodeError) as exc:
        raise BpmnError(
            [
                {
                    "line": 1,
                    "element_id": None,
                    "code": "invalid_encoding",
                    "message": f"the file does not read as its declared encoding {declared!r} ({exc}); "
                    "save it as UTF-8",
                }
            ]
        ) from exc
    text = _DECLARATION.sub(lambda m: m.group(1) + "UTF-8" + m.group(3), text.lstrip("\ufeff"), count=1)
    return text.encode("utf-8")


_DECLARATION = re.compile(r"""^(<\?xml[^>]*?encoding\s*=\s*["'])([^"']*)(["'])""")


def parse_bpmn(xml: bytes, decisions: dict[str, bytes] | None = None, stored: bool = False) -> ProcessModel:
    """Parse one BPMN file holding one executable process (and the DMN tables its business rule
    tasks call); raise ``BpmnError`` with every problem found. Each stage runs whatever the one
    before found, where what it checks can still be read; the error then carries the model as far
    as it could be read, for the service's own checks. A ``stored`` version (deployed before today's
    rules) loads whenever the engine can read it: its running cases must go on."""
    root = _parse_xml(xml)
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise BpmnError(
            [checks.problem(root, "not_bpmn", "the document is not BPMN 2.0 (root must be bpmn:definitions)")]
        )
    process, problems = checks.executable_process(root)
    if process is None:
        raise BpmnError(problems)
    problems += checks.missing_ids(root, process)
    if not (process.get("id") or "").strip():
        raise BpmnError(problems)
    # Without ids or with flows to nowhere the engine's reading of the file is noise: it is not asked.
    unreadable = any(p["code"] in {"missing_id", "unknown_reference"} for p in problems)
    problems += dialects.translate(process)
    problems += checks.gateway_problems(process) + checks.message_problems(root, process)
    key = process.get("id") or ""
    parser = SpiffBpmnParser()
    outputs: dict[str, list[str]] = {}
    decision_expressions, dmn_problems = add_decisions(parser, decisions or {}, outputs)
    problems += dmn_problems + dialects.decision_result_problems(process, outputs)
    spec, subprocess_specs = None, {}
    try:
        if not unreadable:
            parser.add_bpmn_xml(etree.ElementTree(root), filename=f"{key}.bpmn")
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
    except Exception as exc:  # any refusal of the engine's parser is the file's problem, never a 500
        found = checks.engine_problem(
            str(exc), getattr(exc, "id", None) or None, getattr(exc, "line_number", None) or None, root
        )
        # Said already, in AidFlow's words, when the same element has a problem of its own.
        if found["element_id"] is None or found["element_id"] not in {p["element_id"] for p in problems}:
            problems.append(found)
    model, form_problems = _model(root, process, spec, subprocess_specs, decision_expressions)
    problems += form_problems
    if problems and not (stored and spec is not None):
        raise BpmnError(problems, model)
    return model


def lane_roles(process: etree._Element) -> dict[str, str]:
    """Element id → the role of the lane it is placed in: the lane's ``role`` property, or (files
    written before lanes were named in Chinese, and files from other modelers) the lane's name.
    A nested lane is read after the lane holding it, so the innermost lane wins."""
    found: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        role = (_properties_of(lane).get("role") or lane.get("name") or "").strip()
        for ref in lane.iterfind(f"{{{BPMN_NS}}}flowNodeRef"):
            if role and (ref.text or "").strip():
                found[(ref.text or "").strip()] = role
    return found


def _steps_from_xml(process: etree._Element, roles: dict[str, str | None]) -> dict[str, Step]:
    """User tasks read from the file when the engine could not read it (for the service's checks)."""
    lanes = lane_roles(process)
    return {
        task.get("id") or "": Step(
            task.get("id") or "",
            task.get("name") or task.get("id") or "",
            roles.get(task.get("id") or "") or lanes.get(task.get("id") or ""),
            {},
        )
        for task in process.iter(f"{{{BPMN_NS}}}userTask")
        if task.get("id")
    }


def _model(
    root: etree._Element,
    process: etree._Element,
    spec: Any,
    subprocess_specs: dict[str, Any],
    decision_expressions: list[tuple[str, str, str]],
) -> tuple[ProcessModel, list[Problem]]:
    key = process.get("id") or ""
    element_properties = {
        element_id: _properties_of(el) for el in process.iter() if (element_id := el.get("id"))
    }
    inline_forms, problems = dialects.camunda_user_tasks(process, element_properties)
    # A task's own candidate groups name its role; its lane's role only when the task has none.
    # Lanes carry their role as a ``role`` property and are named for people (乡镇（街道）民政); a
    # lane without the property is read by its name (older files; docs/bpmn.md).
    candidate_groups = {
        el.get("id") or "": dialects.extension_attribute(el, "candidateGroups")
        for el in process.iter(f"{{{BPMN_NS}}}userTask")
    }
    lanes = lane_roles(process)
    steps: dict[str, Step] = {}
    messages: dict[str, MessageEventDefinition] = {}
    message_forms: dict[str, str] = {}
    message_properties: dict[str, dict[str, str]] = {}
    task_specs = spec.task_specs if spec is not None else {}
    for name, task_spec in task_specs.items():
        if isinstance(task_spec, UserTask):
            role = candidate_groups.get(name) or lanes.get(name)
            steps[name] = Step(name, task_spec.bpmn_name or name, role, element_properties.get(name, {}))
        if isinstance(task_spec, CatchingEvent):
            for definition in _flatten(task_spec.event_definition):
                if isinstance(definition, MessageEventDefinition):
                    messages[definition.name] = definition
    if spec is None:
        steps = _steps_from_xml(process, candidate_groups)
        steps = {k: Step(s.id, s.title, s.role, element_properties.get(k, {})) for k, s in steps.items()}
    # Catch events after an event-based gateway hold no definition of their own in the spec,
    # so the form of a message's payload is read from the XML.
    declared = [m for m in root.iterfind(f"{{{BPMN_NS}}}message") if m.get("id")]
    message_names = {m.get("id") or "": m.get("name") or m.get("id") or "" for m in declared}
    # Properties of the message itself (``senders``) hold wherever it is caught, or when no event
    # catches it (``enrolment_messages``); a catching event's own properties come on top.
    for message in declared:
        if props := _properties_of(message):
            message_properties.setdefault(message_names[message.get("id") or ""], {}).update(props)
    for definition in process.iter(f"{{{BPMN_NS}}}messageEventDefinition"):
        owner = definition.getparent()
        props = element_properties.get((owner.get("id") if owner is not None else None) or "", {})
        ref = definition.get("messageRef") or ""
        form = props.get("form")
        if form and ref in message_names:
            message_forms[message_names[ref]] = form
        if ref in message_names:
            message_properties.setdefault(message_names[ref], {}).update(props)
    properties = _properties_of(process)
    # Camunda Modeler declares starters as an attribute; AidFlow's own property wins when both exist.
    starters = dialects.extension_attribute(process, "candidateStarterGroups")
    if "starters" not in properties and starters:
        properties["starters"] = starters
    with_ids = [el for el in process.iter() if el.get("id")]
    model = ProcessModel(
        key=key,
        name=process.get("name") or key,
        properties=properties,
        steps=steps,
        message_names=frozenset(messages),
        message_forms=message_forms,
        element_properties=element_properties,
        element_lanes=lanes,
        element_lines={el.get("id") or "": el.sourceline or 0 for el in with_ids},
        expressions=_expressions(process) + decision_expressions,
        end_events=[e.get("id") or "" for e in process.iter(f"{{{BPMN_NS}}}endEvent")],
        inline_forms=inline_forms,
        _spec=spec,
        _subprocess_specs=subprocess_specs,
        _messages=messages,
        message_properties=message_properties,
        element_tags={el.get("id") or "": etree.QName(el).localname for el in with_ids},
        message_declarations={
            m.get("id") or "": (message_names[m.get("id") or ""], m.sourceline, _properties_of(m))
            for m in declared
        },
    )
    return model, problems


def _expressions(process: etree._Element) -> list[tuple[str, str, str]]:
    def owner_id(element: etree._Element | None) -> str:
        return (element.get("id") if element is not None else None) or ""

    found: list[tuple[str, str, str]] = []
    # What is still JUEL (``${…}``) after translation is refused as such (``dialects``), not compiled.
    found_juel = dialects.is_juel
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
        if condition is not None and (condition.text or "").strip():
            found.append((owner_id(flow), "condition", condition.text or ""))
    for tag in ("timeDuration", "timeDate"):  # cycles are refused as such (``dialects``)
        for timer in process.iter(f"{{{BPMN_NS}}}{tag}"):
            definition = timer.getparent()
            if not (timer.text or "").strip():
                continue  # refused as an empty timer (``dialects``)
            found.append(
                (
                    owner_id(definition.getparent() if definition is not None else None),
                    "timer",
                    timer.text or "",
                )
            )
    for script in process.iter(f"{{{BPMN_NS}}}script"):
        if not dialects.runs_as_python(script.getparent()):
            continue  # refused as unsupported_script
        found.append((owner_id(script.getparent()), "script", script.text or ""))
    for tag in ("preScript", "postScript"):
        for script in process.iter(f"{{{SPIFF_NS}}}{tag}"):
            extensions = script.getparent()
            if (script.text or "").strip():
                found.append(
                    (
                        owner_id(extensions.getparent() if extensions is not None else None),
                        "script",
                        script.text or "",
                    )
                )
    return [(element_id, what, source) for element_id, what, source in found if not found_juel(source)]


def _flatten(definition: Any) -> list[Any]:  # SpiffWorkflow's event definitions
    if isinstance(definition, MultipleEventDefinition):
        return [d for sub in definition.event_definitions for d in _flatten(sub)]
    return [definition]


@lru_cache(maxsize=256)
def model_for(definition_id: int, xml: str, decisions: tuple[tuple[str, str], ...] = ()) -> ProcessModel:
    """Parsed models are immutable and cached per deployed definition version."""
    return parse_bpmn(
        xml.encode("utf-8"), {name: dmn.encode("utf-8") for name, dmn in decisions}, stored=True
    )


# Saved state is SpiffWorkflow's own serialization, zlib-compressed: a case's task tree
# repeats the same keys for every task, so ~6 KB of JSON packs into ~1.5 KB.
