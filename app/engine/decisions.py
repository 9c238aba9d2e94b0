"""DMN decision tables: which decision each business rule task calls (``spiffworkflow:calledDecisionId``
or Camunda's ``decisionRef``), the decisions a DMN file declares, and loading tables into the engine's
parser with a problem per table that does not load."""

from __future__ import annotations

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from app.engine import checks, dialects
from app.engine.dialects import Problem
from app.engine.model import BPMN_NS, DMN_NAMESPACES, SPIFF_NS, BpmnError
from app.engine.xmlread import _parse_xml


def decision_refs(xml: bytes) -> dict[str, str]:
    """Business rule task id → the DMN decision id it calls (``spiffworkflow:calledDecisionId``)."""
    root = _parse_xml(xml)
    refs: dict[str, str] = {}
    for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        called = task.find(f"./{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId")
        # Camunda Modeler writes ``camunda:decisionRef`` (translated by ``dialects``); spiff's own wins.
        ref = (
            (called.text or "")
            if called is not None
            else (dialects.extension_attribute(task, "decisionRef") or "")
        )
        refs[task.get("id") or ""] = ref.strip()
    return refs


def decision_ids(dmn: bytes) -> list[str]:
    """The ids of the decisions a DMN file declares (the engine runs the first, one per file);
    ``BpmnError`` when the file is not XML."""
    root = _parse_xml(dmn)
    if root.getroottree().docinfo.doctype:
        # Like a BPMN file's (parsing.utf8_document): a bundle's table is served again in its download.
        message = "the file declares a DOCTYPE; DMN needs none: delete the <!DOCTYPE …> line"
        raise BpmnError([{"line": 1, "element_id": None, "code": "doctype_not_allowed", "message": message}])
    if root.tag not in {f"{{{ns}}}definitions" for ns in DMN_NAMESPACES}:
        return []
    ns = root.tag[1:].split("}")[0]
    return [d.get("id") or "" for d in root.iterfind(f"{{{ns}}}decision")]


def add_decisions(
    parser: SpiffBpmnParser, decisions: dict[str, bytes], outputs: dict[str, list[str]]
) -> tuple[list[tuple[str, str, str]], list[Problem]]:
    """Load DMN tables into the parser: their expressions (decision id, what, source) for checking,
    and a problem per table that does not load; ``outputs`` gets each decision's output names."""
    expressions: list[tuple[str, str, str]] = []
    problems: list[Problem] = []
    for name, dmn in sorted(decisions.items()):
        try:
            root = _parse_xml(dmn)
        except BpmnError as exc:
            problems += [{**e, "element_id": name, "code": "invalid_dmn"} for e in exc.errors]
            continue
        if root.tag not in {f"{{{ns}}}definitions" for ns in DMN_NAMESPACES}:
            message = f"decision file {name!r} is not DMN 1.1–1.3 (root must be dmn:definitions)"
            problems.append(
                {"line": root.sourceline, "element_id": name, "code": "invalid_dmn", "message": message}
            )
            continue
        ns = root.tag[1:].split("}")[0]
        declared = [d.get("id") for d in root.iterfind(f"{{{ns}}}decision")]
        if len(declared) != 1:
            message = (
                f"decision file {name!r} declares {len(declared)} decisions ({', '.join(map(repr, declared))}): "
                "AidFlow reads one decision table per .dmn file; save each decision in its own file"
                if declared
                else f"decision file {name!r} declares no decision: add a dmn:decision with a decision table"
            )
            problems.append(
                {"line": root.sourceline, "element_id": name, "code": "invalid_dmn", "message": message}
            )
            continue
        try:
            parser.add_dmn_xml(root, filename=f"{name}.dmn")
            # Read the table now, so that what it lacks is this file's problem, not the calling task's.
            dmn_parser = parser.dmn_parsers[declared[0] or ""]
            dmn_parser.parse()
            outputs[declared[0] or ""] = [
                o.name or o.label or "" for table in dmn_parser.decision.decisionTables for o in table.outputs
            ]
        except (ValidationException, SpiffWorkflowException, ValueError, KeyError, AttributeError) as exc:
            found = checks.engine_problem(str(exc), getattr(exc, "id", None), None, root)
            problems.append({**found, "element_id": found["element_id"] or name, "code": "invalid_dmn"})
            continue
        for tag, what in (
            ("inputExpression", "dmn_input"),
            ("outputEntry", "dmn_output"),
            ("inputEntry", "dmn_match"),
        ):
            for element in root.iter(f"{{{ns}}}{tag}"):
                text = element.findtext(f"{{{ns}}}text")
                if text and text.strip() and text.strip() != "-":
                    expressions.append((name, what, text))
    return expressions, problems
