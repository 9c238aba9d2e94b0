"""A step's JSON-Schema form as HTML fields, the posted form back as data, errors in Chinese.

The schema is the only rule: fields, labels (``title``, ``x-labels``), help (``description``),
required and conditionally required fields all come from it, and submitted data is checked
with the same schema (``domain.forms.check``) before the domain checks it again on completion.
"""

from dataclasses import dataclass, field
from typing import Any

from app.domain.programs import forms

TEXTAREA_FROM = 500  # strings allowed this long or longer get a textarea


@dataclass
class Field:
    name: str
    label: str
    kind: str  # radio | text | textarea | date | number | integer | lines | rows | boolean
    help: str = ""
    required: bool = False
    required_when: list[str] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)
    columns: list["Field"] = field(default_factory=list)  # for rows (arrays of objects)
    step: str = "any"


def _kind(prop: dict) -> str:
    kind = prop.get("type")
    if "enum" in prop:
        return "radio"
    if kind == "string":
        if prop.get("format") == "date":
            return "date"
        return "textarea" if prop.get("maxLength", TEXTAREA_FROM) >= TEXTAREA_FROM else "text"
    if kind in ("number", "integer", "boolean"):
        return kind
    if kind == "array":
        items = prop.get("items", {})
        return "rows" if items.get("type") == "object" else "lines"
    return "text"


def _conditions(schema: dict) -> list[tuple[str, object, list[str]]]:
    """(field, value, fields it makes required) from ``if/then``, at the top or inside ``allOf``."""
    found = []
    for part in [schema, *schema.get("allOf", [])]:
        when, then = part.get("if", {}).get("properties", {}), part.get("then", {})
        for name, test in when.items():
            if "const" in test:
                found.append((name, test["const"], then.get("required", [])))
    return found


def _field(name: str, prop: dict, required: set[str]) -> Field:
    kind = _kind(prop)
    result = Field(name, prop.get("title", name), kind, prop.get("description", ""), name in required)
    if kind == "radio":
        labels = prop.get("x-labels", {})
        result.options = [(str(v), labels.get(v, str(v))) for v in prop["enum"]]
    if kind == "boolean":
        result.options = [("true", "是"), ("false", "否")]
    if kind == "rows":
        items = prop["items"]
        result.columns = [
            _field(n, p, set(items.get("required", []))) for n, p in items.get("properties", {}).items()
        ]
    if kind == "integer":
        result.step = "1"
    return result


def fields_of(schema: dict | None) -> list[Field]:
    if not schema:
        return []
    props = schema.get("properties", {})
    result = {n: _field(n, p, set(schema.get("required", []))) for n, p in props.items()}
    for name, value, needed in _conditions(schema):
        if name not in result:
            continue
        shown = dict(result[name].options).get(str(value), value)
        for other in needed:
            if other in result and not result[other].required:
                result[other].required_when.append(f"{result[name].label}为“{shown}”时必填")
    return list(result.values())


def decision_field(schema: dict | None) -> str | None:
    """The step's decision (通过/不通过 come from its enum): ``decision`` or a ``*_decision`` radio."""
    for f in fields_of(schema):
        if f.kind == "radio" and (f.name == "decision" or f.name.endswith("_decision")):
            return f.name
    return None


def bulk_fields(schema: dict | None) -> list[Field] | None:
    """The shared fields of a bulk completion (decision, opinion, conditionally required texts), or None
    when the step does not allow it: no decision, or something each case needs of its own (amounts,
    lists, dates) is required."""
    decision = decision_field(schema)
    if decision is None:
        return None
    fields = fields_of(schema)
    shared = []
    for f in fields:
        needed = f.required or f.required_when
        if f.name in (decision, "opinion") or (needed and f.kind in ("text", "textarea") and not f.required):
            shared.append(f)
        elif f.required or f.required_when:
            return None
    return shared


def _scalar(f: Field, raw: str, errors: dict, key: str):
    raw = raw.strip()
    if raw == "":
        return None
    if f.kind in ("number", "integer"):
        try:
            value = float(raw)
        except ValueError:
            errors[key] = "请输入数字"
            return None
        if f.kind == "integer":
            if value != int(value):
                errors[key] = "请输入整数"
                return None
            return int(value)
        return int(value) if value == int(value) and "." not in raw else value
    if f.kind == "boolean":
        return raw == "true"
    return raw


def parse(schema: dict | None, form) -> tuple[dict, dict[str, str], dict]:
    """Posted form → (data for the domain, errors that stop before validation, raw values to show again)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw: dict[str, Any] = {}
    for f in fields_of(schema):
        if f.kind == "lines":
            text = str(form.get(f.name, ""))
            raw[f.name] = text
            items = [line.strip() for line in text.splitlines() if line.strip()]
            if items:
                data[f.name] = items
        elif f.kind == "rows":
            rows, shown = [], []
            for i in range(int(form.get(f"{f.name}.count", 0) or 0)):
                cells = {c.name: str(form.get(f"{f.name}.{i}.{c.name}", "")) for c in f.columns}
                shown.append(cells)
                if not any(v.strip() for v in cells.values()):
                    continue  # a blank row is not an item
                item = {}
                for c in f.columns:
                    value = _scalar(c, cells[c.name], errors, f"{f.name}.{i}.{c.name}")
                    if value is not None:
                        item[c.name] = value
                rows.append(item)
            raw[f.name] = shown
            if rows:
                data[f.name] = rows
        else:
            text = str(form.get(f.name, ""))
            raw[f.name] = text
            value = _scalar(f, text, errors, f.name)
            if value is not None:
                data[f.name] = value
    return data, errors, raw


def _message(error, label: str) -> str:
    rule, limit = error.validator, error.validator_value
    if rule == "required":
        return f"请填写{label}"
    return {
        "minLength": "不能为空" if limit == 1 else f"至少{limit}个字",
        "maxLength": f"不能超过{limit}个字",
        "minimum": f"不能小于{limit}",
        "maximum": f"不能大于{limit}",
        "exclusiveMinimum": f"必须大于{limit}",
        "exclusiveMaximum": f"必须小于{limit}",
        "minItems": f"至少填写{limit}项",
        "maxItems": f"最多填写{limit}项",
        "enum": "请从选项中选择",
        "const": "请从选项中选择",
        "format": "格式不正确（日期如 2026-10-08）",
        "type": "格式不正确",
        "additionalProperties": "包含表单以外的内容",
        "x-not-after-today": "不能晚于今天（已办理事项的日期）",
        "x-decision-by-objections": "与异议处理结果不一致（有异议成立时应不予批准，异议均不成立时应维持拟批准）",
        "x-distinct-people": "受领人与经办人员不能是同一人",
    }.get(rule, "填写不正确")


def explain(schema: dict | None, data: dict) -> dict[str, str]:
    """Field name → Chinese message for everything the schema refuses (empty when the data is valid)."""
    by_name = {f.name: f for f in fields_of(schema)}
    messages: dict[str, str] = {}
    for error in forms.check(schema, data):
        path = list(error.path)
        if error.validator == "required":
            required = error.validator_value if isinstance(error.validator_value, list) else []
            missing = [p for p in required if isinstance(error.instance, dict) and p not in error.instance]
            for name in missing:
                key = ".".join(str(p) for p in [*path, name])
                top = by_name.get(str(path[0] if path else name))
                label = top.label if top and not path else name
                if top and path:  # a missing cell of a row
                    label = next((c.label for c in top.columns if c.name == name), name)
                messages.setdefault(key if path else name, _message(error, label))
            continue
        top = by_name.get(str(path[0])) if path else None
        key = ".".join(str(p) for p in path) if path else "_form"
        messages.setdefault(key, _message(error, top.label if top else ""))
    return messages
