"""Checking an uploaded process before it is deployed: every stage, every problem, in one reply."""

import json
from pathlib import Path
from typing import Any

from app import engine, sandbox
from app.domain.cases import effects as case_effects
from app.domain.errors import DomainError, Invalid
from app.domain.notices.publication import check_declaration as notices_check
from app.domain.people.divisions import LEVELS, check_role, role_level
from app.domain.programs import config as bpmn_config
from app.domain.programs import eligibility
from app.domain.programs.settings import declaration_problems as settings_check
from app.domain.tasks import signers

OUTCOMES = bpmn_config.OUTCOMES
# The department whose county office approves payment batches (money/offices.FINANCE): a program it
# owned would have one office prepare and approve its money.
PAYMENT_CHECKER = "finance"
# Camunda Modeler saves .bpmn; Flowable and Activiti export .bpmn20.xml.
BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml")


def is_bpmn_name(filename: str | None) -> bool:
    return (filename or "").lower().endswith(BPMN_SUFFIXES)


def _problem(
    code: str, message: str, element_id: str | None = None, model: engine.ProcessModel | None = None
) -> dict[str, Any]:
    line = model.element_lines.get(element_id) if model is not None and element_id else None
    return {"line": line, "element_id": element_id, "code": code, "message": message}


def check_model(model: engine.ProcessModel, forms_dir: Path) -> dict[str, Any]:
    """The checks the service itself relies on; returns the referenced forms. Every property is
    parsed first (``config.read``: unknown names and malformed values), then what they mean."""
    forms = {}
    config, errors = bpmn_config.read(model)
    refused = {(e["element_id"], e["property"]) for e in errors}
    process = config.process
    if not process.starters and (model.key, "starters") not in refused:
        errors.append(_problem("no_starters", "the process must declare a 'starters' property", model.key))
    for role in process.starters:
        try:
            check_role(role)
        except DomainError as exc:
            errors.append(_problem("invalid_role", exc.detail, model.key, model))
    # Who may send each message (POST /messages): role keys or ``portal``.
    for name, message in config.messages.items():
        for role in message.senders:
            try:
                check_role(role)
            except DomainError as exc:
                errors.append(
                    _problem("invalid_role", f"senders of message {name!r}: {exc.detail}", model.key)
                )
    references = [(step_id, step.form) for step_id, step in config.steps.items()]
    # The application's own data (POST /applications "data") may have a form too.
    references += [(model.key, process.application_form)]
    references += [(name, form) for name, form in model.message_forms.items()]
    for step in model.steps.values():
        if not step.role:
            errors.append(_problem("no_role", f"user task {step.id!r} is in no lane", step.id, model))
            continue
        if role_level(step.role) is None:
            errors.append(
                _problem(
                    "invalid_role",
                    f"lane {step.role!r} of {step.id!r} is not a role key "
                    f"<level>_<department> with level one of {LEVELS}",
                    step.id,
                    model,
                )
            )
    # A lane's role property names an office (a lane without it is named by a role key, or draws
    # no role at all: its tasks then carry candidateGroups).
    for element_id, properties in model.element_properties.items():
        lane_role = properties.get("role")
        if model.element_tags.get(element_id) == "lane" and lane_role and role_level(lane_role) is None:
            errors.append(
                _problem(
                    "invalid_role",
                    f"lane {lane_role!r} of {element_id!r} is not a role key "
                    f"<level>_<department> with level one of {LEVELS}",
                    element_id,
                    model,
                )
            )
    for element_id, what, source in model.expressions:
        try:
            if what == "script":
                sandbox.compile_script(source)
            elif what == "dmn_match":
                _compile_match(source)
            else:
                sandbox.compile_expression(source)
        except sandbox.ExpressionError as exc:
            errors.append(
                _problem("invalid_expression", f"{what} {source.strip()[:80]!r}: {exc}", element_id, model)
            )
            continue
        if what == "timer" and (problem := engine.timer_literal_problem(source)):
            errors.append(_problem("invalid_timer", problem, element_id, model))
    for problem in notices_check(process):
        errors.append(_problem("invalid_notice_fields", problem, model.key, model))
    for problem in settings_check(process):
        errors.append(_problem("invalid_setting", problem, model.key, model))
    if process.owner_department == PAYMENT_CHECKER:
        errors.append(
            _problem(
                "invalid_owner_department",
                f"owner_department {PAYMENT_CHECKER!r}: the county finance office approves the program's "
                "payment batches and cannot also prepare them; name the program's own department "
                "(civil_affairs, education…)",
                model.key,
                model,
            )
        )
    for step_id, step_config in config.steps.items():
        for problem in signers.declaration_problems(step_id, step_config):
            errors.append(_problem("invalid_approval_mode", problem, step_id, model))
    for problem in eligibility.declaration_problems(process):
        errors.append(_problem("invalid_expression", problem, model.key, model))
    for element_id, problem in case_effects.declaration_problems(config):
        errors.append(_problem("invalid_benefit", problem, element_id, model))
    for element_id, end in config.end_events.items():
        if end.outcome is None and (element_id, "outcome") not in refused:
            errors.append(
                _problem(
                    "invalid_outcome",
                    f"end event {element_id!r} must declare an outcome, one of {OUTCOMES}",
                    element_id,
                    model,
                )
            )
    for element_id, form in references:
        if not form:
            continue
        if form in model.inline_forms:
            forms[form] = model.inline_forms[form]
            continue
        path = forms_dir / form
        if Path(form).name != form or not path.is_file():
            errors.append(
                _problem("unknown_form", f"form {form!r} not found under processes/forms/", element_id, model)
            )
            continue
        try:
            forms[form] = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            errors.append(_problem("invalid_form", f"form {form!r} is not JSON: {exc}", element_id, model))
    if errors:
        raise engine.BpmnError(errors)
    return forms


def _compile_match(source: str) -> None:
    # A DMN input entry is either a value compared with == ("C34") or a test on the input ("< 5000").
    try:
        sandbox.compile_expression(source)
    except sandbox.ExpressionError:
        sandbox.compile_expression(f"dmninputexpr {source}")


def load_decisions(xml: bytes, decisions_dir: Path) -> dict[str, bytes]:
    """The DMN tables (``processes/decisions/<decision id>.dmn``) the file's business rule tasks call."""
    found, errors = find_decisions(xml, decisions_dir)
    if errors:
        raise engine.BpmnError(errors)
    return found


def find_decisions(xml: bytes, decisions_dir: Path) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """The DMN tables found, and a problem per business rule task whose table is missing."""
    found: dict[str, bytes] = {}
    errors: list[dict[str, Any]] = []
    for task_id, decision_id in engine.decision_refs(xml).items():
        path = decisions_dir / f"{decision_id}.dmn"
        if not decision_id or Path(decision_id).name != decision_id or not path.is_file():
            errors.append(
                {
                    "line": None,
                    "element_id": task_id or None,
                    "code": "unknown_decision",
                    "message": f"business rule task {task_id!r} calls decision {decision_id!r}, "
                    "not found under processes/decisions/",
                }
            )
            continue
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            errors.append(
                {
                    "line": None,
                    "element_id": task_id or None,
                    "code": "invalid_dmn",
                    "message": f"decision file {decision_id!r} is not UTF-8",
                }
            )
            continue
        found[decision_id] = path.read_bytes()
    return found, errors


def validate(
    xml: bytes, forms_dir: Path
) -> tuple[bytes, dict[str, bytes], engine.ProcessModel, dict[str, Any]]:
    """Every stage of checking an upload (encoding, XML, decisions, the engine's parser, the
    service's own rules), each run on what the ones before could read; ``Invalid`` lists every
    problem found. Returns the file as UTF-8, its decision tables, its model and its forms."""
    try:
        xml = engine.utf8_document(xml)
        decisions, problems = find_decisions(xml, forms_dir.parent / "decisions")
    except engine.BpmnError as exc:
        raise Invalid("invalid_bpmn", "the BPMN file is not a deployable process", errors=exc.errors) from exc
    model: engine.ProcessModel | None = None
    try:
        model = engine.parse_bpmn(xml, decisions)
    except engine.BpmnError as exc:
        # The engine's refusal of a task whose decision table is missing says the same thing again.
        said = {p["element_id"] for p in problems}
        problems += [e for e in exc.errors if e["code"] != "invalid_bpmn" or e["element_id"] not in said]
        model = exc.model
    forms: dict[str, Any] = {}
    if model is not None:
        try:
            forms = check_model(model, forms_dir)
        except engine.BpmnError as exc:
            problems += exc.errors
    for found in problems:  # the engine knows ids; the file knows their lines
        if found.get("line") is None and model is not None and found.get("element_id"):
            found["line"] = model.element_lines.get(found["element_id"])
    if problems or model is None:
        raise Invalid("invalid_bpmn", "the BPMN file is not a deployable process", errors=problems)
    return xml, decisions, model, forms
