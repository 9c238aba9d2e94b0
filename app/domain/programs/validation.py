"""Checking an uploaded process before it is deployed: every stage, every problem, in one reply."""

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, SchemaError

from app import engine, sandbox
from app.domain.cases import effects as case_effects
from app.domain.errors import DomainError, Invalid
from app.domain.notices.publication import check_declaration as notices_check
from app.domain.people.divisions import LEVELS, check_role, role_level
from app.domain.programs import config as bpmn_config
from app.domain.programs import eligibility
from app.domain.programs.bundles import Bundle
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


def check_model(
    model: engine.ProcessModel,
    forms_dir: Path,
    bundle_forms: dict[str, bytes] | None = None,
    used: set[str] | None = None,
) -> dict[str, Any]:
    """The checks the service itself relies on; returns the referenced forms. Every property is
    parsed first (``config.read``: unknown names and malformed values), then what they mean.
    A form is the bundle's (``bundle_forms``, by file name; the names found go into ``used``),
    else the shipped default under ``forms_dir``."""
    forms: dict[str, Any] = {}
    bundle_forms = bundle_forms or {}
    used = used if used is not None else set()
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
        # camunda:formKey="review" names the bundle's forms/review.json as well.
        in_bundle = next((n for n in (form, f"{form}.json") if n in bundle_forms), None)
        path = forms_dir / form
        if in_bundle is not None:
            used.add(in_bundle)
            content = bundle_forms[in_bundle]
        elif Path(form).name == form and path.is_file():
            content = path.read_bytes()
        else:
            where = "in the bundle's forms/ nor " if bundle_forms else ""
            errors.append(
                _problem(
                    "unknown_form",
                    f"form {form!r} not found {where}under processes/forms/",
                    element_id,
                    model,
                )
            )
            continue
        try:
            forms[form] = _schema(form, content)
        except ValueError as exc:
            errors.append(_problem("invalid_form", str(exc), element_id, model))
    if errors:
        raise engine.BpmnError(errors)
    return forms


def _schema(name: str, content: bytes) -> dict[str, Any]:
    """A form file read as a JSON Schema 2020-12 object; ``ValueError`` saying why not."""
    try:
        schema = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"form {name!r} is not JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise ValueError(f"form {name!r} is not JSON Schema: a form is a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the top"
        raise ValueError(f"form {name!r} is not JSON Schema 2020-12 (at {where}: {exc.message})") from exc
    return schema


# The engine's own reading of an input entry (SpiffWorkflow's DMNEngine.evaluate): a ``?`` outside
# quotes stands for the input; else an entry that parses as Python is compared with ``==``; else it is
# glued to the input expression as written ("<= 2" → "household_size<= 2").
_QUESTION = re.compile(r"""(\?)(?=(?:[^'"]|['"][^'"]*['"])*$)""")


def _compile_match(source: str) -> None:
    """Compile a DMN input entry the way the engine will run it, so that what passes here runs."""
    text = source.strip()
    if "?" in text and _QUESTION.search(text):
        sandbox.compile_expression(_QUESTION.sub("dmninputexpr", text))
        return
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        # Glued without a space, as the engine does: "in (1, 2)" would read "household_sizein (1, 2)".
        try:
            sandbox.compile_expression(f"dmninputexpr{text}")
        except sandbox.ExpressionError as exc:
            raise sandbox.ExpressionError(
                f"{exc}; a test on the input is written with ? for the input, e.g. ? in (1, 2), ? >= 18"
            ) from exc
        return
    sandbox.compile_expression(text)
    # FEEL's list of values ("a","b") is a Python tuple: compared with == it would never match.
    if isinstance(tree.body, ast.Tuple):
        raise sandbox.ExpressionError(
            f"a FEEL list of values matches nothing here: write ? in ({text}) or one rule per value"
        )


def load_decisions(xml: bytes, decisions_dir: Path) -> dict[str, bytes]:
    """The DMN tables (``processes/decisions/<decision id>.dmn``) the file's business rule tasks call."""
    found, errors, _ = find_decisions(xml, decisions_dir)
    if errors:
        raise engine.BpmnError(errors)
    return found


def _dmn_problem(name: str, code: str, message: str, line: int | None = None) -> dict[str, Any]:
    return {"line": line, "element_id": name, "code": code, "message": message}


def _bundle_decisions(bundle: dict[str, bytes]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Decision id → the bundle's DMN file declaring it, and a problem per file that cannot be read."""
    by_id: dict[str, str] = {}
    problems: list[dict[str, Any]] = []
    for path, content in sorted(bundle.items()):
        try:
            content.decode("utf-8")
            ids = engine.decision_ids(content)
        except UnicodeDecodeError:
            problems.append(_dmn_problem(path, "invalid_dmn", f"decision file {path!r} is not UTF-8"))
            continue
        except engine.BpmnError as exc:
            said = ("doctype_not_allowed",)  # what the engine names itself; the rest is the table's XML
            problems += [
                {**e, "element_id": path, "code": e["code"] if e["code"] in said else "invalid_dmn"}
                for e in exc.errors
            ]
            continue
        if not ids or not ids[0]:
            message = f"decision file {path!r} is not DMN 1.1–1.3 with a decision (root dmn:definitions, a dmn:decision with an id)"
            problems.append(_dmn_problem(path, "invalid_dmn", message))
            continue
        if ids[0] in by_id:
            message = f"decision {ids[0]!r} is declared in {by_id[ids[0]]!r} and in {path!r}: keep one"
            problems.append(_dmn_problem(path, "invalid_dmn", message))
            continue
        by_id[ids[0]] = path
    return by_id, problems


def find_decisions(
    xml: bytes, decisions_dir: Path, bundle: dict[str, bytes] | None = None
) -> tuple[dict[str, bytes], list[dict[str, Any]], dict[str, str]]:
    """The DMN tables found (decision id → DMN), a problem per business rule task whose table is
    missing (and per bundle file that cannot be read or is called by no task), and the bundle's
    path of each table that came from the bundle. A decision id is looked up in the bundle's DMN
    files first, then as ``processes/decisions/<decision id>.dmn``."""
    found: dict[str, bytes] = {}
    bundle = bundle or {}
    in_bundle, errors = _bundle_decisions(bundle)
    sources: dict[str, str] = {}
    for task_id, decision_id in engine.decision_refs(xml).items():
        if decision_id in in_bundle:
            found[decision_id] = bundle[in_bundle[decision_id]]
            sources[decision_id] = in_bundle[decision_id]
            continue
        path = decisions_dir / f"{decision_id}.dmn"
        if not decision_id or Path(decision_id).name != decision_id or not path.is_file():
            where = "in the bundle's DMN files nor " if bundle else ""
            errors.append(
                {
                    "line": None,
                    "element_id": task_id or None,
                    "code": "unknown_decision",
                    "message": f"business rule task {task_id!r} calls decision {decision_id!r}, "
                    f"not found {where}under processes/decisions/",
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
    for decision_id, unused in sorted(in_bundle.items()):
        if decision_id not in sources:
            message = f"{unused!r} (decision {decision_id!r}) is called by no business rule task: remove it from the bundle"
            errors.append(_dmn_problem(unused, "unused_bundle_file", message))
    return found, errors, sources


@dataclass
class Checked:
    """An upload that passed every check: the BPMN as UTF-8, its tables and forms, and the files the
    version is made of (path in its bundle → (text, ``bundle`` or ``default``))."""

    xml: bytes
    decisions: dict[str, bytes]
    model: engine.ProcessModel
    forms: dict[str, Any]
    files: dict[str, tuple[str, str]] = field(default_factory=dict)


def validate(upload: bytes | Bundle, forms_dir: Path) -> Checked:
    """Every stage of checking an upload (encoding, XML, decisions, the engine's parser, the
    service's own rules), each run on what the ones before could read; ``Invalid`` lists every
    problem found, the bundle's files' with the BPMN's. A single BPMN takes its forms and
    decisions from ``forms_dir`` and the ``decisions`` folder beside it; a bundle's own come first."""
    bundle = upload if isinstance(upload, Bundle) else Bundle(upload)
    forms_in_bundle = bundle.form_files
    decisions_dir = forms_dir.parent / "decisions"
    try:
        xml = engine.utf8_document(bundle.bpmn)
        decisions, problems, decision_sources = find_decisions(xml, decisions_dir, bundle.decisions)
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
    used: set[str] = set()
    if model is not None:
        try:
            forms = check_model(model, forms_dir, forms_in_bundle, used)
        except engine.BpmnError as exc:
            problems += exc.errors
        for path in sorted(bundle.forms):
            if Path(path).name not in used:
                message = (
                    f"{path!r} is the form of no step, application or message: remove it from the bundle"
                )
                problems.append(_dmn_problem(path, "unused_bundle_file", message))
    for found in problems:  # the engine knows ids; the file knows their lines
        if found.get("line") is None and model is not None and found.get("element_id"):
            found["line"] = model.element_lines.get(found["element_id"])
    if problems or model is None:
        raise Invalid("invalid_bpmn", "the BPMN file is not a deployable process", errors=problems)
    files: dict[str, tuple[str, str]] = {}
    for name in sorted(forms):
        if name in model.inline_forms:
            continue  # written inside the BPMN (camunda:formData)
        own = next((n for n in (name, f"{name}.json") if n in used), None)
        if own is not None:
            files[f"forms/{own}"] = (forms_in_bundle[own].decode("utf-8"), "bundle")
        else:
            files[f"forms/{name}"] = ((forms_dir / name).read_text(encoding="utf-8"), "default")
    for decision_id, dmn in sorted(decisions.items()):
        source = decision_sources.get(decision_id)
        files[source or f"decisions/{decision_id}.dmn"] = (
            dmn.decode("utf-8"),
            "bundle" if source else "default",
        )
    return Checked(xml, decisions, model, forms, files)
