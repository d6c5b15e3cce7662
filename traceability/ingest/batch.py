"""Batch: validated work from many messages, gathered so that one transaction writes it all.

A batch is filled by :mod:`traceability.ingest.validate` (from MQTT messages or flight-log
records) and written by :func:`traceability.ingest.store.store_batch`. It remembers the
message each piece of work came from, so that whatever turns out to be unacceptable
(at validation or when stored) is rejected with that message's topic and payload.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from traceability.ingest.contract import MissionEndIn, MissionStartIn, Point, StatusIn
from traceability.ingest.rejects import Reject
from traceability.models import MissionSource, utcnow


@dataclass(slots=True)
class Source:
    """The message (or log record) a batch's work came from."""

    topic: str
    payload: bytes | str
    received_at: datetime
    redelivered: bool = False


@dataclass
class IngestBatch:
    """Validated work from many messages, written together by ``store_batch``.

    Work items are ``(source index, drone code, object)`` tuples rather than small
    dataclasses: a batch holds thousands of points and is built in the ingester's hot loop.
    """

    sources: list[Source] = field(default_factory=list)
    points: list[tuple[int, str, Point]] = field(default_factory=list)
    events: list[tuple[int, str, MissionStartIn | MissionEndIn]] = field(default_factory=list)
    statuses: list[tuple[int, str, StatusIn]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    #: What the batch's records were translated from: the source of the missions it creates.
    origin: MissionSource = MissionSource.contract

    def source(
        self,
        *,
        topic: str,
        payload: bytes | str,
        received_at: datetime | None = None,
        redelivered: bool = False,
    ) -> int:
        """Register the message work comes from; returns its index."""
        self.sources.append(Source(topic, payload, received_at or utcnow(), redelivered))
        return len(self.sources) - 1

    def reject(self, src: int, reason: str, payload: Any = None) -> None:
        """Keep a reject for message ``src`` (or for one object of it, ``payload``)."""
        s = self.sources[src]
        self.rejects.append(
            Reject.of(
                topic=s.topic,
                payload=s.payload if payload is None else payload,
                reason=reason,
                received_at=s.received_at,
                redelivered=s.redelivered,
            )
        )

    def __len__(self) -> int:
        return len(self.points) + len(self.events) + len(self.statuses) + len(self.rejects)
