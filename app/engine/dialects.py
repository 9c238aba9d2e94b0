"""What Camunda Modeler and Flowable (Activiti) write, read as AidFlow reads it — or refused with
what to write instead: unquoted ISO 8601 timers, ``${x == 'y'}`` expressions, the ``activiti``
namespace, assignees, service tasks and call activities. Translations are applied to the parsed
tree before the engine sees it, each time the file is read, so a stored file keeps its own words."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from app.engine.model import BPMN_NS, CAMUNDA_NS, SPIFF_NS

# Activiti's namespace (older Flowable and Activiti files) and Flowable's own: read like camunda's.
ACTIVITI_NS = "http://activiti.org/bpmn"
FLOWABLE_NS = "http://flowable.org/bpmn"
EXTENSION_NAMESPACES = (CAMUNDA_NS, ACTIVITI_NS, FLOWABLE_NS)

Problem = dict[str, str | int | None]

_DURATION = re.compile(
    r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+([.,]\d+)?S)?)?", re.I
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?", re.I)
_CYCLE = re.compile(r"R\d*/.+", re.I)


def extension_attribute(element: etree._Element, name: str) -> str | None:
    """``camunda:<name>``, or ``activiti:<name>`` / ``flowable:<name>`` when camunda's is absent."""
    for ns in EXTENSION_NAMESPACES:
        value = element.get(f"{{{ns}}}{name}")
        if value is not None:
            return value
    return None


def _problem(element: etree._Element, code: str, message: str) -> Problem:
    return {"line": element.sourceline, "element_id": element.get("id"), "code": code, "message": message}


def _owner(element: etree._Element) -> etree._Element:
    """The nearest ancestor with an id (the event of a timer, the flow of a condition)."""
    parent = element.getparent()
    while parent is not None and element.get("id") is None:
        element, parent = parent, parent.getparent()
    return element


def iso_timer_literal(text: str) -> str | None:
    """An unquoted ISO 8601 duration, date or cycle (as Camunda writes timers), quoted; else None."""
    value = text.strip()
    if any(pattern.fullmatch(value) for pattern in (_DURATION, _DATE, _CYCLE)):
        return repr(value.upper() if _DURATION.fullmatch(value) else value)
    return None


# JUEL (``${…}``) tokens of simple conditions, and their Python equivalent.
_JUEL_TOKEN = re.compile(
    r"""\s*(?:(?P<string>'[^'\\]*'|"[^"\\]*")|(?P<number>\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|&&|\|\||[<>!()])"""
    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"""
)
_JUEL_WORDS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "and": "and",
    "or": "or",
    "not": "not",
    "true": "True",
    "false": "False",
    "null": "None",
}
_JUEL_OPS = {"&&": "and", "||": "or", "!": "not"}


def translate_juel(source: str) -> str | None:
    """``${decision == 'approve' && amount > 0}`` → ``decision == 'approve' and amount > 0``; None
    when the expression is more than names, literals, comparisons and and/or/not (a method call,
    a property, ``empty``…)."""
    body = source.strip()
    if not (body.startswith(("${", "#{")) and body.endswith("}")):
        return None
    body, position, words = body[2:-1], 0, []
    while position < len(body.rstrip()):
        match = _JUEL_TOKEN.match(body, position)
        if match is None:
            return None
        position = match.end()
        if match["name"]:
            if match["name"] in {"empty", "execution", "task", "div", "mod", "instanceof"}:
                return None
            words.append(_JUEL_WORDS.get(match["name"], match["name"]))
        elif match["op"]:
            words.append(_JUEL_OPS.get(match["op"], match["op"]))
        else:
            words.append(match["string"] or match["number"])
    return " ".join(words) if words else None


def is_juel(text: str) -> bool:
    return "${" in text or "#{" in text


def translate(process: etree._Element) -> list[Problem]:
    """Rewrite Camunda's idioms in ``process`` (a parsed tree, changed in place) into what the engine
    runs; returns a problem for each idiom AidFlow refuses, with what to write instead."""
    problems: list[Problem] = []
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for timer in process.iter(f"{{{BPMN_NS}}}{tag}"):
            text = timer.text or ""
            quoted = iso_timer_literal(text)
            if not text.strip():
                problems.append(
                    _problem(
                        _owner(timer),
                        "invalid_timer",
                        f"the timer of {_owner(timer).get('id')!r} is empty: write an ISO 8601 duration "
                        "(P7D) or date (2030-01-01T09:00:00+08:00), or an expression such as working_days(5)",
                    )
                )
            elif quoted is not None:
                timer.text = quoted
            elif is_juel(text):
                _translate_juel_text(timer, text, "timer", problems)
            if tag == "timeCycle":
                problems.append(
                    _problem(
                        _owner(timer),
                        "unsupported_timer",
                        f"cycle timer {text.strip()[:60]!r} of {_owner(timer).get('id')!r}: AidFlow does not "
                        "repeat timers; use a duration timer (timeDuration, e.g. P1D) on a flow that loops "
                        "back, or a step's time_limit",
                    )
                )
    for condition in process.iter(f"{{{BPMN_NS}}}conditionExpression"):
        if is_juel(condition.text or ""):
            _translate_juel_text(condition, condition.text or "", "condition", problems)
    for script_task in process.iter(f"{{{BPMN_NS}}}scriptTask"):
        if not runs_as_python(script_task):
            language = script_task.get("scriptFormat")
            problems.append(
                _problem(
                    script_task,
                    "unsupported_script",
                    f"script task {script_task.get('id')!r} is written in {language}: AidFlow runs Python "
                    "scripts only, sandboxed; rewrite it in Python over the case's data (scriptFormat python)",
                )
            )
    _called_decisions(process)
    problems += _refused_elements(process)
    return problems


def _called_decisions(process: etree._Element) -> None:
    """``camunda:decisionRef="amount"`` on a business rule task → ``spiffworkflow:calledDecisionId``,
    what the engine reads (a file saying both keeps its spiff element)."""
    for task in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        ref = extension_attribute(task, "decisionRef")
        extensions = task.find(f"{{{BPMN_NS}}}extensionElements")
        if ref is None or (
            extensions is not None and extensions.find(f"{{{SPIFF_NS}}}calledDecisionId") is not None
        ):
            continue
        if extensions is None:
            extensions = etree.Element(f"{{{BPMN_NS}}}extensionElements")
            task.insert(0, extensions)
        etree.SubElement(extensions, f"{{{SPIFF_NS}}}calledDecisionId").text = ref.strip()


def decision_result_problems(process: etree._Element, outputs: dict[str, list[str]]) -> list[Problem]:
    """Camunda puts a decision's result into ``camunda:resultVariable`` shaped by ``mapDecisionResult``;
    AidFlow (the engine) puts each output into the case's data under the output's own name. The two
    agree only for ``singleEntry`` of a one-output table whose output has that name: anything else
    is refused with what to write, rather than run with other data than the modeler meant."""
    problems: list[Problem] = []
    for task in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        variable = extension_attribute(task, "resultVariable")
        if variable is None:
            continue
        ref = (extension_attribute(task, "decisionRef") or "").strip()
        mapping = (extension_attribute(task, "mapDecisionResult") or "resultList").strip()
        names = outputs.get(ref)
        if names is None:
            continue  # the decision itself is missing or broken: said as such
        if mapping == "singleEntry" and names == [variable.strip()]:
            continue
        problems.append(
            _problem(
                task,
                "unsupported_decision_result",
                f"business rule task {task.get('id')!r} maps the result of {ref!r} ({mapping}) into "
                f"{variable!r}, but AidFlow puts each output of the table into the case's data under its own "
                f"name ({', '.join(map(repr, names)) or 'none'}): remove resultVariable and mapDecisionResult "
                "and use the output names, or give the table one output named like the variable and set "
                "mapDecisionResult to singleEntry",
            )
        )
    return problems


def runs_as_python(script_task: etree._Element | None) -> bool:
    """Whether a script task's script is Python (others are refused as ``unsupported_script``)."""
    language = (script_task.get("scriptFormat") if script_task is not None else None) or "python"
    return language.strip().lower() in {"python", "py", "text/x-python"}


def _translate_juel_text(element: etree._Element, text: str, what: str, problems: list[Problem]) -> None:
    python = translate_juel(text)
    if python is not None:
        element.text = python
        return
    owner = _owner(element)
    # ``execution.getVariable("x")`` is the variable x: the equivalent, when the rest translates.
    equivalent = translate_juel(_GET_VARIABLE.sub(r"\1", text))
    instead = (
        f"write it as {equivalent}"
        if equivalent
        else 'write it in Python over the case\'s data, e.g. decision == "approve" and amount > 0'
    )
    problems.append(
        _problem(
            owner,
            "unsupported_expression",
            f"{what} {text.strip()[:80]!r} of {owner.get('id')!r} is a JUEL expression AidFlow does not "
            f"translate (only names, literals, comparisons and and/or/not): {instead}, without ${{…}}",
        )
    )


_GET_VARIABLE = re.compile(r"""execution\.getVariable\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\)""")


_REFUSED_TAGS = {
    "serviceTask": "a service task calls code or a system AidFlow does not run: use a user task for what an "
    "office does, a script task for a computation, or a message catch event for an outside system's "
    "answer (POST /messages)",
    "sendTask": "a send task calls a system AidFlow does not run: webhooks announce every step "
    "(docs/webhooks.md); use a message catch event for the answer",
    "dataStoreReference": "a data store is kept outside the case, and AidFlow keeps none: what steps fill in "
    "is the case's data; remove the data store and its associations",
    "callActivity": "a call activity starts another process file: put the steps in an embedded "
    "sub-process in this file, or start the other program from an end event (then_start)",
}


def _refused_elements(process: etree._Element) -> list[Problem]:
    problems: list[Problem] = []
    for tag, instead in _REFUSED_TAGS.items():
        for element in process.iter(f"{{{BPMN_NS}}}{tag}"):
            problems.append(_problem(element, "unsupported_element", f"{element.get('id')!r}: {instead}"))
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        for attribute in ("assignee", "candidateUsers"):
            value = extension_attribute(task, attribute)
            if value is not None:
                problems.append(
                    _problem(
                        task,
                        "unsupported_assignee",
                        f"user task {task.get('id')!r} names people ({attribute}={value[:60]!r}): AidFlow gives "
                        "a task to a role at the case's place; remove it and set candidateGroups (or the "
                        "lane's name) to a role key such as township_civil_affairs; for named deciders use "
                        "the properties approval_mode and assignees_variable",
                    )
                )
    return problems


_FORM_TYPES = {
    "string": {"type": "string"},
    "long": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
}


def camunda_user_tasks(
    process: etree._Element, element_properties: dict[str, dict[str, str]]
) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """Read what Camunda Modeler (or Flowable) writes on user tasks into AidFlow's own properties:
    ``formKey`` (a form file) and ``formData`` (an inline form) → ``form``; an ISO-duration
    ``dueDate`` → ``time_limit``. AidFlow's own properties win when both are given."""
    forms: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        task_id = task.get("id")
        if not task_id:
            continue  # refused as missing_id
        props = element_properties.setdefault(task_id, {})
        form_key = extension_attribute(task, "formKey")
        if form_key and "form" not in props:
            props["form"] = form_key.replace(":", "/").rsplit("/", 1)[-1]
        due = (extension_attribute(task, "dueDate") or "").strip().upper()
        if due.startswith("P") and "time_limit" not in props:
            props["time_limit"] = due
        fields = [
            field
            for ns in EXTENSION_NAMESPACES
            for field in task.iterfind(f"./{{{BPMN_NS}}}extensionElements/{{{ns}}}formData/{{{ns}}}formField")
        ]
        if fields and "form" not in props:
            props["form"] = f"{task_id}.formData"
            forms[props["form"]] = _inline_form(task, fields, problems)
    return forms, problems


def _inline_form(
    task: etree._Element, fields: list[etree._Element], problems: list[Problem]
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in fields:
        ns = etree.QName(field).namespace
        field_id = (field.get("id") or "").strip()
        if not field_id:
            problems.append(
                _problem(
                    field,
                    "form_field_without_id",
                    f"a form field ({field.get('label') or 'no label'}) of user task {task.get('id')!r} has no "
                    "id: give it the name the data should carry (e.g. decision)",
                )
            )
            continue
        values = [v.get("id") or "" for v in field.iterfind(f"{{{ns}}}value") if v.get("id")]
        spec = (
            {"type": "string", "enum": values}
            if field.get("type") == "enum"
            else dict(_FORM_TYPES.get(field.get("type") or "string", {"type": "string"}))
        )
        properties[field_id] = {"title": field.get("label") or field_id, **spec}
        if any(c.get("name") == "required" for c in field.iter(f"{{{ns}}}constraint")):
            required.append(field_id)
    return {
        "title": task.get("name") or task.get("id"),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
