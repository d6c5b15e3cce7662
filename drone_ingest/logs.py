"""Flight logs recorded out of coverage, uploaded later through the same pipeline.

A log is CSV (header row with the telemetry keys, optionally ``drone_id`` and ``event``)
or JSON lines (one telemetry object, an array of them, or a mission event per line).
Each record is validated and stored exactly as if it had arrived on its MQTT topic:
repeats of points already received live are no-ops, bad records are kept as rejects.
"""

from pathlib import Path

from sqlmodel import Session

from traceability.config import get_settings
from traceability.models import IngestResult
from traceability.services import missions, telemetry


def ingest_log_bytes(
    session: Session, *, data: bytes, name: str, drone: str | None = None
) -> IngestResult:
    """Store a log's records, then measure the completed missions it changed."""
    result = telemetry.ingest_log(
        session, data=data, name=name, drone=drone, prefix=get_settings().topic_prefix
    )
    changed = sorted(result.ended | result.late)
    if changed:
        missions.measure_dirty(session, mission_ids=changed, limit=len(changed))
    return result.public()


def ingest_log_file(path: str | Path, *, drone: str | None = None, engine=None) -> IngestResult:
    """What ``agritrace ingest-log FILE`` runs: read, store, measure, print a summary."""
    from traceability.db import get_engine, migrate

    path = Path(path)
    if engine is None:
        engine = get_engine()
        migrate(engine)
    with Session(engine) as session:
        result = ingest_log_bytes(session, data=path.read_bytes(), name=path.name, drone=drone)
    print(
        f"{path.name}: {result.stored} points stored, {result.duplicates} already known, "
        f"{result.events} events, {result.rejected} rejected (see GET /api/v1/ingest/rejects)"
    )
    return result
