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


def run_ingester(*, mqtt_url: str | None = None, client_id: str | None = None) -> None:
    """The ``agritrace ingest`` command: run until SIGINT or SIGTERM, then stop cleanly."""
    from traceability.db import get_engine, migrate

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = get_settings()
    url = mqtt_url or settings.mqtt_url
    if not url:
        raise SystemExit("no broker: pass --mqtt-url or set AGRITRACE_MQTT_URL (mqtt://host:port)")
    engine = get_engine()
    migrate(engine)
    ingester = Ingester(
        mqtt_url=url,
        engine=engine,
        prefix=settings.topic_prefix,
        client_id=client_id,
        share_group=settings.ingest_share_group,
        batch_size=settings.ingest_batch_size,
        flush_ms=settings.ingest_flush_ms,
    )
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
