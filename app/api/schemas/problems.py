"""The problem document every error answers with (RFC 9457, ``app/api/problems.py``), for the schema."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemError(BaseModel):
    """One fault of the request: a field of a malformed request, or a rule a form's data broke."""

    model_config = ConfigDict(extra="allow")
    field: str | None = None
    message: str | None = None
    type: str | None = Field(None, description="the validation error's kind (malformed requests)")
    rule: str | None = Field(None, description="the JSON Schema or AidFlow keyword that failed (forms)")


class Problem(BaseModel):
    """An error. ``code`` is stable and machine-readable; some codes carry more members (``errors``,
    ``reasons``, ``limit``, ``floor``, ``retry_after``, ``error_id``…)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="https://aidflow.dev/problems/<code>")
    title: str
    status: int = Field(ge=400, le=599)
    code: str = Field(description="stable machine-readable code, e.g. task_claimed, form_invalid")
    detail: str
    errors: list[ProblemError] | None = None
    error_id: str | None = Field(None, description="500 only: quote it when reporting the failure")


_WHEN = {
    400: "Bad request",
    401: "Not authenticated: no, an expired or a revoked token or API key",
    403: "Not allowed for the caller",
    404: "Not found (or not visible to the caller)",
    409: "Conflict with the current state (a race, a step no longer open, a duplicate)",
    413: "The request body is too large",
    422: "The request or its data is invalid (`validation_error`, `form_invalid`, …)",
    429: "Too many requests; see Retry-After",
    500: "The service failed; quote `error_id`",
    503: "The database is unavailable (retry; see Retry-After) or the replica is not ready",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: each status answered with a ``Problem`` as application/problem+json."""
    return {
        status: {
            "description": _WHEN[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


# What may go wrong on any route (a database outage, a failure; malformed input) ...
COMMON = problem_responses(422, 500, 503)
# ... on a route that needs a caller (bearer token or X-API-Key) ...
AUTHENTICATED = problem_responses(401, 403, 404, 409, 422, 500, 503)
# ... and on the public routes (no caller; 404 for what does not exist, 409 for a closed notice).
PUBLIC = problem_responses(404, 409, 422, 500, 503)
