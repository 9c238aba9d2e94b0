"""Exit 1 with a clear message when HOST:PORT is taken (run by `make demo` before anything else)."""

import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
with socket.socket() as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError as exc:
        sys.exit(
            f"Port {port} on {host} is in use ({exc.strerror}). Stop what uses it, or choose another: "
            f"make demo PORT=8080"
        )
