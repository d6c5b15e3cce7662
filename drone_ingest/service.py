"""The ``agritrace ingest`` process: settings, database, signals, and the ingester's life.

The transport (:mod:`drone_ingest.client`) knows nothing of processes; this module starts
one ingester from the settings (over MQTT, or over AMQP from RabbitMQ's quorum queue
when ``AGRITRACE_AMQP_URL`` is set), migrates the database first, serves ``/healthz``,
``/readyz`` and ``/metrics`` (:mod:`drone_ingest.health`) when given a port, logs its
totals every half minute and stops it cleanly on SIGINT or SIGTERM: it takes no new
message, commits and acknowledges what it holds, disconnects and exits 0. If the writer
stops on a fault, the process exits 1 so that its supervisor restarts it.
"""

import gc
import logging
import signal
import sys
import threading
import time

from drone_ingest.client import Ingester
from drone_ingest.health import HealthServer
from traceability import logformat
from traceability.config import get_settings

log = logging.getLogger(__name__)

STATS_EVERY_S = 30.0
#: How often the interpreter passes between the ingester's threads (Python's default: 5 ms).
SWITCH_INTERVAL_S = 0.0005
#: The exit status when the writer stopped on a fault.
EXIT_WRITER_FAILED = 1


def make_ingester(
    engine, *, mqtt_url: str | None = None, amqp_url: str | None = None, client_id=None
) -> Ingester:
    """The ingester the settings ask for: over AMQP when an AMQP URL is set, else MQTT."""
    settings = get_settings()
    amqp_url = amqp_url or settings.amqp_url
    if amqp_url:
        from drone_ingest.amqp import AmqpIngester

        return AmqpIngester(
            amqp_url=amqp_url,
            engine=engine,
            prefix=settings.topic_prefix,
            queue=settings.ingest_queue,
            delivery_limit=settings.ingest_delivery_limit,
            client_id=client_id,
            batch_size=settings.ingest_batch_size,
            flush_ms=settings.ingest_flush_ms,
            writers=settings.ingest_writers,
        )
    url = mqtt_url or settings.mqtt_url
    if not url:
        raise SystemExit(
            "no broker: pass --mqtt-url or set AGRITRACE_MQTT_URL (mqtt://host:port), "
            "or AGRITRACE_AMQP_URL (amqp://user:pass@host:5672/%2F) for RabbitMQ"
        )
    return Ingester(
        mqtt_url=url,
        engine=engine,
        prefix=settings.topic_prefix,
        client_id=client_id,
        share_group=settings.ingest_share_group,
        batch_size=settings.ingest_batch_size,
        flush_ms=settings.ingest_flush_ms,
        writers=settings.ingest_writers,
    )


def run_ingester(
    *,
    mqtt_url: str | None = None,
    client_id: str | None = None,
    amqp_url: str | None = None,
    http_port: int | None = None,
    log_format: str | None = None,
) -> int:
    """The ``agritrace ingest`` command: run until SIGINT or SIGTERM (0) or a fault (1)."""
    from traceability.db import get_engine, migrate

    settings = get_settings()
    try:
        logformat.configure(log_format or settings.log_format)
    except ValueError as exc:
        raise SystemExit(f"--log-format: {exc}") from None
    engine = get_engine()
    migrate(engine)
    ingester = make_ingester(engine, mqtt_url=mqtt_url, amqp_url=amqp_url, client_id=client_id)
    port = settings.ingest_http_port if http_port is None else http_port
    server = (
        HealthServer(ingester.checks, host=settings.ingest_http_host, port=port).start()
        if port
        else None
    )
    try:
        return _run(ingester)
    finally:
        if server is not None:
            server.stop()


def _run(ingester: Ingester) -> int:
    """Start ``ingester``, wait for a signal or a fault, stop it; the exit status."""
    done = threading.Event()

    def _stop(signum, _frame) -> None:
        log.info("signal %s: stopping", signum)
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    # What start-up made (modules, the ORM's mappings: about 140,000 objects) lives as
    # long as the process; out of the collector's way, a full collection no longer
    # holds the interpreter about 60 ms each time the backlog's messages trigger one.
    gc.collect()
    gc.freeze()
    # paho's network thread gives the interpreter up for each socket read and waits for
    # it back while the writer validates a batch: by default up to 5 ms a read, several
    # reads a message. Handing over ten times as often kept the broker's backlog for us
    # smaller (BENCHMARKS.md, freshness).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    ingester.start()
    log.info(
        "ingesting %s as %s (batch %d points / %d ms)",
        ingester.subscription,
        ingester.client_id,
        ingester.batch_size,
        int(ingester.flush_s * 1000),
    )
    last = time.monotonic()
    while not done.wait(0.5) and ingester.failure is None:
        if time.monotonic() - last >= STATS_EVERY_S:
            last = time.monotonic()
            log.info("%s", ingester.stats)
    ingester.stop()
    if ingester.failure is not None:
        log.critical("exiting: the writer stopped (%s)", type(ingester.failure).__name__)
        return EXIT_WRITER_FAILED
    log.info("stopped: %s", ingester.stats)
    return 0
