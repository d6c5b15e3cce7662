"""The ingester's own small HTTP server: ``/healthz``, ``/readyz`` and ``/metrics``.

Any consumer (MQTT or AMQP) starts one with a function that tells whether it is ready;
orchestrators (Docker health checks, Kubernetes probes) and Prometheus read it:

- ``/healthz``: 200 while the process answers at all (liveness);
- ``/readyz``: 200 when the consumer says it is ready (subscribed, writer alive), else
  503, both with a JSON body naming each check;
- ``/metrics``: Prometheus text format (:mod:`drone_ingest.metrics` and process metrics).
"""

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

#: ``{check name: passed}``; ready when every check passed.
ReadyCheck = Callable[[], dict[str, bool]]


def _handler(ready: ReadyCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._send(200, b'{"status":"ok"}', "application/json")
            elif path == "/readyz":
                checks = ready()
                ok = all(checks.values())
                body = {"status": "ready" if ok else "not ready", "checks": checks}
                self._send(200 if ok else 503, orjson.dumps(body), "application/json")
            elif path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b'{"detail":"not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass  # probes every few seconds would drown the log

    return Handler


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` on ``host:port``, in a daemon thread."""

    def __init__(self, ready: ReadyCheck, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(ready))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ingest-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen when 0 was asked)."""
        return self._server.server_address[1]

    def start(self) -> "HealthServer":
        """Serve in the background; returns itself."""
        self._thread.start()
        log.info("health and metrics on http://%s:%d", *self._server.server_address[:2])
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
