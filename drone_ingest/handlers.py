"""Topic kind -> handler: one MQTT message into validated work in a batch. No paho here.

The MQTT side (:mod:`drone_ingest.client`) turns what the broker delivers into a small
frozen :class:`Message`; everything from here on handles only that. Handlers fill a
:class:`~traceability.ingest.batch.IngestBatch` through the ingest pipeline, and
:func:`store` writes it in one transaction. A message that breaks the contract becomes a
reject with its reason; it never raises out of :func:`collect`.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache

from sqlalchemy import inspect
from sqlmodel import Session

from traceability.ingest.batch import IngestBatch
from traceability.ingest.contract import BadMessage, Topic, check_size, decode_json, parse_topic
from traceability.ingest.store import BatchResult, KnownRows, store_batch
from traceability.ingest.validate import add_mission_event, add_status, add_telemetry
from traceability.models import IngestReject, TelemetryPoint, utcnow


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message as the ingester sees it.

    ``mid`` and ``qos`` are what the acknowledgement needs; ``generation`` names the
    broker connection it came on, so an acknowledgement is never sent on a later one.
    ``redelivered`` is the broker's word that it sent this message before (MQTT's DUP
    flag, AMQP's ``redelivered``): it may already be stored.
    """

    topic: str
    payload: bytes
    qos: int = 0
    mid: int = 0
    retain: bool = False
    generation: int = 0
    received_at: datetime = field(default_factory=utcnow)
    redelivered: bool = False


_SETTERS = tuple(getattr(Message, f.name).__set__ for f in fields(Message))


def message_of(*values) -> Message:
    """``Message(*values)``, every field given in order, at a third of the cost: the
    network thread builds one for every message, and a frozen dataclass's ``__init__``
    sets each field through ``object.__setattr__``. Here the slots are filled directly;
    the message is as frozen as any other."""
    message = object.__new__(Message)
    for put, value in zip(_SETTERS, values, strict=True):
        put(message, value)
    return message


@lru_cache(maxsize=1 << 16)
def _topic(topic: str, prefix: str) -> Topic:
    """:func:`parse_topic`, remembered: a fleet sends on a few topics a drone, message
    after message (a topic outside the contract raises, and is not remembered)."""
    return parse_topic(topic, prefix=prefix)


def handle_telemetry(batch: IngestBatch, src: int, topic: Topic, message: Message) -> None:
    """One point or an array of points; each bad point is its own reject."""
    # The raw bytes go to the validator, which parses and checks them in one pass.
    add_telemetry(batch, src=src, drone=topic.drone_id, payload=message.payload)


def handle_mission(batch: IngestBatch, src: int, topic: Topic, message: Message) -> None:
    """A mission start or end event."""
    add_mission_event(batch, src=src, drone=topic.drone_id, payload=decode_json(message.payload))


def handle_status(batch: IngestBatch, src: int, topic: Topic, message: Message) -> None:
    """The retained online/offline state (also the Last Will)."""
    add_status(batch, src=src, drone=topic.drone_id, payload=decode_json(message.payload))


HANDLERS: dict[str, Callable[[IngestBatch, int, Topic, Message], None]] = {
    "telemetry": handle_telemetry,
    "mission": handle_mission,
    "status": handle_status,
}


def collect(batch: IngestBatch, message: Message, *, prefix: str, max_bytes: int) -> None:
    """Add one message's work (or its reject) to ``batch``."""
    src = batch.source(
        topic=message.topic,
        payload=message.payload,
        received_at=message.received_at,
        redelivered=message.redelivered,
    )
    try:
        check_size(message.payload, max_bytes=max_bytes)
        topic = _topic(message.topic, prefix)
        HANDLERS[topic.kind](batch, src, topic, message)
    except BadMessage as exc:
        batch.reject(src, str(exc))
    except Exception as exc:  # one bad message must never stop the ingester
        batch.reject(src, f"could not be handled: {type(exc).__name__}: {exc}")


def batch_of(messages: Iterable[Message], *, prefix: str, max_bytes: int) -> IngestBatch:
    """A batch holding the work of ``messages``."""
    batch = IngestBatch()
    for message in messages:
        collect(batch, message, prefix=prefix, max_bytes=max_bytes)
    return batch


def store(
    session: Session, messages: Iterable[Message], *, prefix: str, max_bytes: int
) -> BatchResult:
    """Validate and write ``messages`` in one transaction, then commit."""
    return commit_batch(session, batch_of(messages, prefix=prefix, max_bytes=max_bytes))


def commit_batch(
    session: Session, batch: IngestBatch, kept: KnownRows | None = None
) -> BatchResult:
    """Write a batch :func:`batch_of` made in one transaction, then commit. The batch
    takes the rejects the store finds: validate afresh for another attempt. ``kept``:
    the drones and missions the writer met before; it learns this batch's once committed."""
    result = store_batch(session, batch=batch, kept=kept)
    session.commit()
    if kept is not None:
        kept.learn(result)
    return result


def missing_tables(session: Session) -> list[str]:
    """The tables ingest writes to that the database lacks (none, when all is well)."""
    found = inspect(session.connection())
    needed = (TelemetryPoint.__tablename__, IngestReject.__tablename__)
    return [name for name in needed if not found.has_table(name)]
