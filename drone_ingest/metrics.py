"""The ingester's Prometheus metrics, shared by every consumer (MQTT or AMQP).

A consumer calls :func:`observe_received` for each message it takes in and
:func:`observe_batch` after each commit; :mod:`drone_ingest.health` serves them at
``/metrics``. The metrics live in prometheus-client's default registry, beside its
process metrics (CPU, memory, open files).
"""

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from traceability.ingest.store import BatchResult

MESSAGES = Counter("agritrace_ingest_messages_received", "Messages taken in from the broker.")
COMMITTED = Counter(
    "agritrace_ingest_messages_committed", "Messages whose work was committed (then acknowledged)."
)
POINTS = Counter("agritrace_ingest_points_stored", "Telemetry points stored (new rows).")
DUPLICATES = Counter(
    "agritrace_ingest_duplicates", "Telemetry points already stored (redelivered or re-sent)."
)
EVENTS = Counter("agritrace_ingest_events", "Mission events and status messages applied.")
REJECTS = Counter(
    "agritrace_ingest_rejects", "Messages or objects kept as rejects, by reason.", ["reason"]
)
DB_RETRIES = Counter("agritrace_ingest_db_retries", "Batch commits retried: database unavailable.")
COMMIT_SECONDS = Histogram(
    "agritrace_ingest_batch_commit_seconds",
    "Time to validate, write and commit one batch.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG_SECONDS = Histogram(
    "agritrace_ingest_lag_seconds",
    "Now minus the fix time of a batch's newest point, at its commit.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400),
)
LAST_LAG = Gauge("agritrace_ingest_last_lag_seconds", "Lag of the last committed batch.")
READY = Gauge("agritrace_ingest_ready", "1 while subscribed with a live writer, else 0.")
WRITER_FAILED = Gauge("agritrace_ingest_writer_failed", "1 once the writer has stopped on a fault.")

# Reject reasons are sentences naming the field and value; the label keeps only their kind,
# so that a drone sending junk cannot grow the number of series.
_REASON_KINDS = (
    ("topic is outside", "topic"),
    ("drone_id in the topic", "topic"),
    ("unknown topic kind", "topic"),
    ("payload is empty", "empty"),
    ("payload is not valid JSON", "not_json"),
    ("more than the", "too_large"),
    ("unknown drone", "unknown_drone"),
    ("which belongs to drone", "other_drones_mission"),
    ("conflicting duplicate", "conflicting_duplicate"),
    ("could not be stored", "storage"),
    ("could not be handled", "handler_error"),
)


def reason_kind(reason: str) -> str:
    """The label a reject reason is counted under.

    >>> reason_kind("payload is not valid JSON: unexpected character")
    'not_json'
    >>> reason_kind("point 3: lat must be a number")
    'invalid'
    """
    for needle, kind in _REASON_KINDS:
        if needle in reason:
            return kind
    return "invalid"


def observe_received(n: int = 1) -> None:
    """Count messages taken in."""
    MESSAGES.inc(n)


def observe_batch(result: BatchResult, *, messages: int, seconds: float) -> None:
    """Count one committed batch: its messages, points, duplicates, rejects, time and lag."""
    COMMITTED.inc(messages)
    POINTS.inc(result.stored)
    DUPLICATES.inc(result.duplicates)
    EVENTS.inc(result.events)
    for reject in result.refused:
        REJECTS.labels(reason_kind(reject.reason)).inc()
    COMMIT_SECONDS.observe(seconds)
    if result.newest_ts is not None:
        lag = (datetime.now(UTC) - result.newest_ts).total_seconds()
        LAG_SECONDS.observe(max(0.0, lag))
        LAST_LAG.set(lag)


def observe_reject(reason: str) -> None:
    """Count a reject kept outside a batch (a message the database refused)."""
    REJECTS.labels(reason_kind(reason)).inc()
