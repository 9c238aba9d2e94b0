"""One gate for every incoming string and JSON body, before any endpoint sees it (422 problem).

The fuzzer found values that pass FastAPI's parsing but break storage: U+0000 (PostgreSQL text
and jsonb refuse it), ``NaN``/``Infinity``/``1e400`` (Python's json accepts them, jsonb does not)
and data nested hundreds of levels deep (recursion in encoders and in jsonb). Refusing them here,
once, covers the path, the query string, urlencoded forms (the login, the web UI) and JSON
bodies of every route, including those that take no login.

Multipart bodies (BPMN uploads) are left to the upload validator, which parses the XML itself.
This runs inside ``BodyLimit``, so the body it buffers is already bounded in size.
"""

import json
import math
import re
from urllib.parse import parse_qsl, unquote

from app.api.problems import PROBLEM_BASE

MAX_DEPTH = 64  # real request bodies nest a handful of levels; jsonb and our encoders recurse

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class Refused(Exception):
    def __init__(self, code: str, detail: str):
        self.code, self.detail = code, detail


def _check_depth(body: bytes) -> None:
    depth = 0
    for char in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if char in b"[{" else -1
        if depth > MAX_DEPTH:
            raise Refused("too_deeply_nested", f"JSON may nest at most {MAX_DEPTH} levels")


def _refuse_constant(name: str):
    raise Refused("invalid_number", f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Refused("invalid_number", f"{text[:40]} is out of range")
    return value


def _check_strings(value) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise Refused("invalid_character", "text may not contain the character U+0000")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def check_json(body: bytes) -> None:
    """Refuse what storage cannot hold; leave malformed JSON to FastAPI (422 ``validation_error``)."""
    if not body.strip():
        return
    _check_depth(body)
    try:
        value = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8): FastAPI answers it as before
        return
    _check_strings(value)


def check_text(text: str) -> None:
    if "\x00" in text:
        raise Refused("invalid_character", "text may not contain the character U+0000")


def check_query(raw: bytes) -> None:
    for key, value in parse_qsl(
        raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace"
    ):
        check_text(key)
        check_text(value)


class InputGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            check_text(scope.get("path", ""))
            check_text(unquote(scope.get("raw_path", b"").decode("latin-1")))
            check_query(scope.get("query_string", b""))
        except Refused as refused:
            return await _refuse(send, refused)
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS") or content_type.startswith(b"multipart/"):
            return await self.app(scope, receive, send)

        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left (or BodyLimit cut it off): pass that on
                replay = [message]
                return await self.app(scope, _replaying(replay, receive), send)
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            if content_type == b"application/x-www-form-urlencoded":
                check_query(body)
            else:
                check_json(body)
        except Refused as refused:
            return await _refuse(send, refused)
        return await self.app(
            scope, _replaying([{"type": "http.request", "body": body, "more_body": False}], receive), send
        )


def _replaying(messages: list, receive):
    async def replay():
        if messages:
            return messages.pop(0)
        return await receive()

    return replay


async def _refuse(send, refused: Refused) -> None:
    body = json.dumps(
        {
            "type": PROBLEM_BASE + refused.code,
            "title": "Unprocessable Content",
            "status": 422,
            "code": refused.code,
            "detail": refused.detail,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
