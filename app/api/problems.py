"""Every error leaves as RFC 9457 ``application/problem+json`` with a stable ``code``."""

import uuid
from http import HTTPStatus

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db.engine import DATABASE_ERRORS, is_unavailable
from app.domain.errors import DomainError

PROBLEM_BASE = "https://aidflow.dev/problems/"

log = structlog.get_logger(__name__)


def problem(status: int, code: str, detail: str, headers: dict | None = None, **extra) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type="application/problem+json", headers=headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if "retry_after" in exc.extra:
            headers = {"Retry-After": str(exc.extra["retry_after"])}
        return problem(exc.status, exc.code, exc.detail, headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        errors = [
            {"field": "/".join(str(p) for p in e["loc"][1:]) or None, "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return problem(422, "validation_error", "the request is malformed or incomplete", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return problem(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    async def _database(request: Request, exc: Exception):
        # Handled by type because Starlette re-raises what reaches the catch-all after answering; the
        # answer itself comes from the catch-all as installed last (the web UI wraps it for /ui/ pages).
        return await request.app.exception_handlers[Exception](request, exc)

    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, _database)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        if is_unavailable(exc):
            # Failover or restart of the database. Retryable; a write cut off at COMMIT may have landed,
            # which is what Idempotency-Key (submissions) and 409 task_not_open (completions) tell.
            log.warning("database_unavailable", method=request.method, path=request.url.path, error=repr(exc))
            return problem(
                503,
                "database_unavailable",
                "the database is unavailable; retry shortly",
                {"Retry-After": "1"},
            )
        return problem(
            500,
            "internal_error",
            "the service failed; quote the error_id when reporting it",
            error_id=log_internal_error(request, exc),
        )


def log_internal_error(request: Request, exc: Exception) -> str:
    """Log an unexpected failure with its traceback under a fresh id the caller is shown."""
    error_id = uuid.uuid4().hex[:16]
    log.error(
        "internal_error",
        error_id=error_id,
        method=request.method,
        path=request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return error_id
