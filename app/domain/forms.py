"""Step forms are JSON Schemas; submitted data must satisfy the step's schema."""

from functools import lru_cache
import json

from jsonschema import Draft202012Validator

from app.domain.errors import Invalid


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER)


def check(schema: dict | None, data: dict) -> list:
    """Every way ``data`` fails ``schema`` (jsonschema errors, for callers that explain them in their words)."""
    if schema is None:
        return []
    return sorted(_validator(json.dumps(schema, sort_keys=True)).iter_errors(data), key=lambda e: list(e.path))


def validate(schema: dict | None, data: dict, code: str = "form_invalid") -> None:
    errors = check(schema, data)
    if errors:
        raise Invalid(code, "the submitted data does not satisfy the form", errors=[
            {"field": "/".join(str(p) for p in e.path) or None, "message": e.message} for e in errors
        ])
