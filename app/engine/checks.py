"""Structural checks of an uploaded file, each returning every problem it finds with an element id
and a line: the executable process, ids, gateways, messages; and the engine parser's own refusal
in plain words."""

from __future__ import annotations

import re

from lxml import etree

from app.engine.dialects import Problem
from app.engine.model import BPMN_NS

# Flow nodes and flows the engine and AidFlow find by id.
_NEEDS_ID = (
    "startEvent",
    "endEvent",
    "userTask",
    "scriptTask",
    "businessRuleTask",
    "manualTask",
    "task",
    "subProcess",
    "exclusiveGateway",
    "inclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "receiveTask",
    "sequenceFlow",
    "message",
)


def problem(element: etree._Element | None, code: str, message: str) -> Problem:
    if element is None:
        return {"line": None, "element_id": None, "code": code, "message": message}
    return {"line": element.sourceline, "element_id": element.get("id"), "code": code, "message": message}


def executable_process(root: etree._Element) -> tuple[etree._Element | None, list[Problem]]:
    """The one executable process, and a problem naming every process when there is not exactly
    one. With none marked executable and a single process, that one is checked all the same."""
    every = list(root.iterfind(f"{{{BPMN_NS}}}process"))
    executable = [p for p in every if (p.get("isExecutable") or "").strip().lower() == "true"]
    if len(executable) == 1:
        return executable[0], []
    named = ", ".join(
        f"{p.get('id')!r} ({'isExecutable=' + repr(p.get('isExecutable')) if p.get('isExecutable') else 'no isExecutable'})"
        for p in every
    )
    if not every:
        message = 'the file holds no bpmn:process; add one with isExecutable="true"'
    elif not executable:
        message = (
            f'no process is marked executable: {named}; set isExecutable="true" on the process AidFlow '
            "should run (in Camunda Modeler: the process's 'Executable' box)"
        )
    else:
        message = (
            f"{len(executable)} processes are marked executable: {named}; AidFlow runs one process per "
            'file: keep isExecutable="true" on one, set the others to false or move them to their own files'
        )
    found = problem(executable[0] if executable else (every[0] if every else root), "process_count", message)
    return (every[0] if len(every) == 1 else None), [found]


def missing_ids(root: etree._Element, process: etree._Element) -> list[Problem]:
    """Elements the engine and AidFlow find by id, without one; flows from or to nothing."""
    problems = [problem(process, "missing_id", "the process has no id; give it the program key as id")]
    problems = problems if not (process.get("id") or "").strip() else []
    for tag in _NEEDS_ID:
        for element in (root if tag == "message" else process).iter(f"{{{BPMN_NS}}}{tag}"):
            if not (element.get("id") or "").strip():
                name = f" {element.get('name')!r}" if element.get("name") else ""
                problems.append(problem(element, "missing_id", f"a bpmn:{tag}{name} has no id; give it one"))
    ids = {element.get("id") for element in process.iter() if element.get("id")}
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        for end, word in (("sourceRef", "from"), ("targetRef", "to")):
            ref = flow.get(end)
            if ref not in ids:
                problems.append(
                    problem(
                        flow,
                        "unknown_reference",
                        f"flow {flow.get('id')!r} goes {word} {ref!r}, which is no element of the process: "
                        f"connect it again in the modeler (its {end})"
                        if ref
                        else f"flow {flow.get('id')!r} has no {end}: connect it in the modeler",
                    )
                )
    return problems


def gateway_problems(process: etree._Element) -> list[Problem]:
    """Exclusive and inclusive gateways with several ways out need a condition on each, or a default."""
    # Flows by where they leave, once: comparing every gateway with every flow is quadratic, and a
    # file of thousands of gateways would hold the upload for minutes.
    leaving: dict[str, list[etree._Element]] = {}
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        leaving.setdefault(flow.get("sourceRef") or "", []).append(flow)
    problems = []
    for kind in ("exclusiveGateway", "inclusiveGateway"):
        for gateway in process.iter(f"{{{BPMN_NS}}}{kind}"):
            outgoing = leaving.get(gateway.get("id") or "", []) if gateway.get("id") else []
            if len(outgoing) < 2:
                continue
            for flow in outgoing:
                if (
                    flow.get("id") != gateway.get("default")
                    and flow.find(f"{{{BPMN_NS}}}conditionExpression") is None
                ):
                    problems.append(
                        problem(
                            flow,
                            "flow_without_condition",
                            f"flow {flow.get('id')!r} leaves gateway {gateway.get('id')!r} "
                            "with no condition and is not its default: add a condition or make it the default",
                        )
                    )
    return problems


def message_problems(root: etree._Element, process: etree._Element) -> list[Problem]:
    """Every message a case may wait for needs a name the service can route (POST /messages)."""
    names = {m.get("id"): m.get("name") for m in root.iterfind(f"{{{BPMN_NS}}}message") if m.get("id")}
    problems = []
    for definition in process.iter(f"{{{BPMN_NS}}}messageEventDefinition"):
        ref = definition.get("messageRef")
        if not ref or ref not in names or not (names[ref] or "").strip():
            owner = definition.getparent()
            problems.append(
                {
                    "line": definition.sourceline,
                    "element_id": owner.get("id") if owner is not None else None,
                    "code": "message_without_name",
                    "message": f"{owner.get('id') if owner is not None else None!r} waits for a message with "
                    "no declared name: declare a bpmn:message with a name and refer to it (messageRef)",
                }
            )
    return problems


_REPR = re.compile(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-fA-F]+>")
_QUOTED = re.compile(r"'([^']+)'")


def engine_problem(message: str, element_id: str | None, line: int | None, root: etree._Element) -> Problem:
    """The engine parser's refusal in plain words: an element id and its line (the parser reads a
    ``line_number`` lxml does not have), no Python repr."""
    text = _REPR.sub(lambda m: f"a bpmn:{m.group(1)} element", message.splitlines()[0] if message else "")
    element = None
    if element_id:
        element = (
            next(iter(root.iterfind(f".//*[@id='{element_id}']")), None) if "'" not in element_id else None
        )
    if element is None:  # "The process 'X' was not found": the element that names X
        for name in _QUOTED.findall(text):
            if "'" in name or '"' in name:
                continue
            element = next(
                iter(
                    root.xpath(".//*[@id=$v or @calledElement=$v or @sourceRef=$v or @targetRef=$v]", v=name)
                ),
                None,
            )
            if element is not None:
                break
    return {
        "line": (element.sourceline if element is not None else None) or line or None,
        "element_id": element.get("id") if element is not None else (element_id or None),
        "code": "invalid_bpmn",
        "message": text,
    }
