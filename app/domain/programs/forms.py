"""Step forms are JSON Schemas; submitted data must satisfy the step's schema.

Besides JSON Schema 2020-12, a form may say two things no standard keyword can, so that the web
form, the API and every program refuse them alike (docs/bpmn.md, "Form keywords"):

- ``"x-not-after-today": true`` on a date property: the date of something already done (a visit,
  a delivery, a payment) cannot lie after today's date in Shanghai on the service clock.
- ``"x-decision-by-objections": {"upheld": "refuse", "dismissed": "approve"}`` on a form that
  answers objections: an upheld objection requires the first decision, all objections dismissed
  the second; "objection upheld" together with "objection not upheld, approval kept" is refused.
- ``"x-distinct-people": ["receiver_name", "staff_names"]`` on a form: the people named in these
  fields (a name or a list of names) are all different persons, e.g. who received cash and the
  two staff members who witnessed it (临时救助 plan 5).
"""

import json
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator

from app.domain.errors import Invalid
from app.domain.timekeeping import calendar
from app.shapes import Json

# A keyword of our own: called by jsonschema with the validator, the keyword's value in the schema,
# the instance and the schema; yields what is wrong.
Keyword = Iterator[ValidationError]


def _not_after_today(validator: Validator, enabled: object, instance: object, schema: Json) -> Keyword:
    if not (enabled and isinstance(instance, str)):
        return
    try:
        day = date.fromisoformat(instance)
    except ValueError:
        return  # "format" reports a malformed date
    today = calendar.today()
    if day > today:
        yield ValidationError(
            f"{instance} is after today ({today.isoformat()}): "
            "the date of something already done cannot lie in the future"
        )


def _decision_by_objections(validator: Validator, rule: object, instance: object, schema: Json) -> Keyword:
    if not isinstance(instance, dict) or not isinstance(rule, dict):
        return
    outcomes = [o.get("outcome") for o in instance.get("objection_outcomes") or [] if isinstance(o, dict)]
    if not outcomes:
        return
    expected = rule.get("upheld") if "upheld" in outcomes else rule.get("dismissed")
    decision = instance.get("decision")
    if expected is not None and decision is not None and decision != expected:
        finding = "an objection is upheld" if "upheld" in outcomes else "every objection is dismissed"
        yield ValidationError(
            f"{finding}, so the decision must be {expected!r}, not {decision!r}", path=["decision"]
        )


def _distinct_people(validator: Validator, names: object, instance: object, schema: Json) -> Keyword:
    if not isinstance(instance, dict) or not isinstance(names, list):
        return
    seen: dict[str, str] = {}
    for name in names:
        value = instance.get(name)
        for person in value if isinstance(value, list) else [value]:
            if not isinstance(person, str):
                continue
            if person.strip() in seen and seen[person.strip()] != name:
                yield ValidationError(
                    f"{person!r} is named in both {seen[person.strip()]!r} and {name!r}: "
                    "they must be different people",
                    path=[name],
                )
            seen.setdefault(person.strip(), name)


_FormValidator: type[Validator] = validators.extend(
    Draft202012Validator,
    {
        "x-not-after-today": _not_after_today,
        "x-decision-by-objections": _decision_by_objections,
        "x-distinct-people": _distinct_people,
    },
)


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Validator:
    return _FormValidator(json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER)


def check(schema: dict[str, Any] | None, data: dict[str, Any]) -> list[ValidationError]:
    """Every way ``data`` fails ``schema`` (jsonschema errors, for callers that explain them in their words)."""
    if schema is None:
        return []
    return sorted(
        _validator(json.dumps(schema, sort_keys=True)).iter_errors(data), key=lambda e: list(e.path)
    )


def validate(schema: dict[str, Any] | None, data: dict[str, Any], code: str = "form_invalid") -> None:
    errors = check(schema, data)
    if errors:
        raise Invalid(
            code,
            "the submitted data does not satisfy the form",
            errors=[
                {"field": "/".join(str(p) for p in e.path) or None, "rule": e.validator, "message": e.message}
                for e in errors
            ],
        )
