"""The ``agritrace ingest`` process: settings, database, signals, and the ingester's life.

The transport (:mod:`drone_ingest.client`) knows nothing of processes; this module starts
one ingester from the settings, migrates the database first, logs its totals every half
minute and stops it cleanly on SIGINT or SIGTERM (flushed, committed, acknowledged).
"""

import logging
import signal
import threading
import time

from drone_ingest.client import Ingester
from traceability.config import get_settings

log = logging.getLogger(__name__)

STATS_EVERY_S = 30.0


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
            client_id=client_id,
            batch_size=settings.ingest_batch_size,
            flush_ms=settings.ingest_flush_ms,
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
    )


def run_ingester(
    *, mqtt_url: str | None = None, client_id: str | None = None, amqp_url: str | None = None
) -> None:
    """The ``agritrace ingest`` command: run until SIGINT or SIGTERM, then stop cleanly."""
    from traceability.db import get_engine, migrate

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    engine = get_engine()
    migrate(engine)
    ingester = make_ingester(engine, mqtt_url=mqtt_url, amqp_url=amqp_url, client_id=client_id)
    done = threading.Event()

    def _stop(signum, _frame) -> None:
        log.info("signal %s: stopping", signum)
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    ingester.start()
    log.info(
        "ingesting %s as %s (batch %d points / %d ms)",
        ingester.subscription,
        ingester.client_id,
        ingester.batch_size,
        int(ingester.flush_s * 1000),
    )
    last = time.monotonic()
    while not done.wait(1.0):
        if time.monotonic() - last >= STATS_EVERY_S:
            last = time.monotonic()
            log.info("%s", ingester.stats)
    ingester.stop()
    log.info("stopped: %s", ingester.stats)
