"""Starting the service as users run it, for tests that need real processes: a free port, and
waiting until a started server answers (or saying why it never did)."""

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(base: str, process: subprocess.Popen, log: Path | None = None, seconds: float = 30) -> str:
    """Poll ``base``/healthz until it answers; fail with the end of the log if the process dies."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return base
        except httpx.TransportError:
            if process.poll() is not None:
                raise AssertionError(
                    f"the server exited ({process.returncode}): "
                    + (log.read_text(errors="replace")[-3000:] if log else "")
                ) from None
            time.sleep(0.1)
    raise AssertionError(f"{base} did not answer within {seconds} s")
