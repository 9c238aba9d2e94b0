"""A real webhook receiver for tests: a small Starlette app served by uvicorn on a loopback port.

It runs in its own thread (with its own event loop), so the service under test reaches it over
real TCP exactly as it would reach a portal. Each path follows a plan of answers: a list of
HTTP status codes or "hang" (wait until ``release()``); when the plan is used up it answers 200.
"""

import asyncio
import json
import socket
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        self.plans: dict[str, list] = {}
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.port = _free_port()
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def plan(self, path: str, *answers) -> None:
        self.plans[path] = list(answers)

    def release(self) -> None:
        self._release.set()

    def received(self, path: str | None = None) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def events(self, path: str | None = None) -> list[dict]:
        return [r["json"] for r in self.received(path)]

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        with self._lock:
            self.requests.append(
                {"path": path, "headers": dict(request.headers), "body": body, "json": json.loads(body)}
            )
            plan = self.plans.get(path)
            answer = plan.pop(0) if plan else 200
        if answer == "hang":
            for _ in range(600):  # at most 30 s, so a forgotten release cannot stall the suite
                if self._release.is_set():
                    break
                await asyncio.sleep(0.05)
            answer = 200
        return Response(status_code=answer)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        for _ in range(200):
            if self._server.started:
                return self
            threading.Event().wait(0.02)
        raise RuntimeError("the test receiver did not start")

    def __exit__(self, *exc) -> None:
        self._release.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port_url() -> str:
    """A loopback URL nothing listens on (a receiver that is down)."""
    return f"http://127.0.0.1:{_free_port()}/down"
