"""TCP ports for the servers tests start."""

from __future__ import annotations

import itertools
import os
import socket

# Ports handed to tests' servers: below the kernel's ephemeral range (32768 and up), so
# that no outgoing connection's local end can take one between the pick and the server's
# bind; each test worker its own slice, handed out in turn.
_PORT_SLICE = 1500
_PORT_BASE = 21000 + _PORT_SLICE * (int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]) % 7)
_in_turn = itertools.cycle(range(_PORT_BASE, _PORT_BASE + _PORT_SLICE))


def free_port() -> int:
    """A TCP port nobody listens on right now, and not handed out recently by this worker
    (a server given the last one may not be listening yet)."""
    for port in itertools.islice(_in_turn, _PORT_SLICE):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORT_BASE}..{_PORT_BASE + _PORT_SLICE - 1}")
