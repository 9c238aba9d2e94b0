"""Refusals that reach a page before any route: the body limit (413) and the input guard (422) answer
every request with ``application/problem+json`` before the web UI sees it. Under /ui/ a person reads
that answer, so it is turned into the usual Chinese error page with the same status."""

import json
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web import labels
from app.web.render import page

PREFIX = "/ui/"


class PageForRefusals:
    """ASGI middleware, outside BodyLimit and InputGuard: their problem answers under /ui/ as pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIX):
            return await self.app(scope, receive, send)
        start: Message | None = None
        body = b""

        async def answer(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                if _is_problem(message):
                    start = message  # held back until its body says which problem it is
                    return
                return await send(message)
            if start is None:
                return await send(message)
            body += message.get("body", b"")
            if message.get("more_body"):
                return
            shown = page(Request(scope), "error.html", start["status"], message=_words(body))
            await shown(scope, receive, send)

        await self.app(scope, receive, answer)


def _is_problem(message: Message) -> bool:
    headers = dict(message.get("headers") or [])
    return bool(headers.get(b"content-type", b"").startswith(b"application/problem+json"))


def _words(body: bytes) -> str:
    try:
        problem: dict[str, Any] = json.loads(body)
    except ValueError:
        return labels.error("internal_error")
    extra = {k: v for k, v in problem.items() if k not in ("type", "title", "status", "code", "detail")}
    return labels.error(str(problem.get("code", "")), str(problem.get("detail", "")), extra)
