"""Errors with a stable machine-readable ``code`` (rendered as RFC 9457 problems)."""

from typing import Any


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


class Invalid(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403


class Unauthorized(DomainError):
    status = 401


class TooLarge(DomainError):
    status = 413


class Damaged(DomainError):
    """The service's own stored data is not what it wrote (an object whose bytes no longer match its
    hash): nothing the caller can change; an operator restores it from the backup."""

    status = 500


class TooMany(DomainError):
    """Rate-limited; ``retry_after`` (seconds) becomes the Retry-After header."""

    status = 429
