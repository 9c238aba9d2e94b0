"""/readyz and a replica's shutdown, with a real `aidflow serve` process: on SIGTERM it turns not
ready while still serving (the drain), finishes a request it had accepted, and exits."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.live import free_port, wait_until_up

BIN = Path(sys.executable).parent


def _env(tmp_path, **extra) -> dict:
    return {
        **os.environ,
        "AIDFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shutdown.db'}",
        "AIDFLOW_ENV": "test",
        "AIDFLOW_LOG_JSON": "false",
        **extra,
    }


def _serve(tmp_path, env) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    process = subprocess.Popen(
        [str(BIN / "aidflow"), "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, wait_until_up(f"http://127.0.0.1:{port}", process, tmp_path / "serve.log")


def _migrate(env) -> None:
    subprocess.run([str(BIN / "aidflow"), "migrate"], env=env, check=True, capture_output=True)


def test_ready_only_at_the_schema_head(tmp_path):
    env = _env(tmp_path)
    _migrate(env)
    process, base = _serve(tmp_path, env)
    try:
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        # The schema behind the code (an image rolled out before its migration): not ready, 503.
        import sqlite3

        with sqlite3.connect(tmp_path / "shutdown.db") as db:
            db.execute("UPDATE alembic_version SET version_num = '0013_growth'")
        behind = httpx.get(f"{base}/readyz")
        assert behind.status_code == 503
        assert behind.headers["content-type"].startswith("application/problem+json")
        assert behind.json()["code"] == "not_ready" and "aidflow migrate" in behind.json()["detail"]
        assert httpx.get(f"{base}/healthz").status_code == 200  # alive all the same: no restart
        # A schema ahead of the code (the migration Job of a rolling upgrade ran first): the old
        # replicas stay ready, migrations expand before they contract.
        with sqlite3.connect(tmp_path / "shutdown.db") as db:
            db.execute("UPDATE alembic_version SET version_num = '9999_from_the_next_release'")
        assert httpx.get(f"{base}/readyz").status_code == 200
    finally:
        process.kill()
        process.wait()


def test_sigterm_drains_finishes_the_accepted_request_and_exits(tmp_path):
    env = _env(tmp_path, AIDFLOW_SHUTDOWN_DRAIN_SECONDS="2", AIDFLOW_SHUTDOWN_GRACE_SECONDS="10")
    _migrate(env)
    process, base = _serve(tmp_path, env)
    port = int(base.rsplit(":", 1)[1])
    try:
        # A request in flight: headers and half its body sent, the rest only after SIGTERM.
        body = b'{"username": "nobody", "password": "not-a-password"}'
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body[:10]
        )
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        draining = httpx.get(f"{base}/readyz", timeout=2)
        assert draining.status_code == 503 and draining.json()["reasons"] == ["shutting down"]
        assert httpx.get(f"{base}/healthz", timeout=2).status_code == 200  # still serving while draining
        time.sleep(2.2)  # the drain is over: uvicorn's graceful stop, waiting for the request
        assert process.poll() is None
        slow.sendall(body[10:])
        slow.settimeout(10)
        response = b""
        while chunk := slow.recv(65536):
            response += chunk
        slow.close()
        assert response.startswith(b"HTTP/1.1 4"), response[:200]  # answered (bad credentials), not cut off
        # uvicorn re-raises the signal it caught once it has stopped: killed by SIGTERM, cleanly.
        assert process.wait(timeout=10) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
