"""Rejects: a message, or one object of it, that could not be accepted, kept with its reason.

Nothing a drone sends is silently dropped. A reject holds the topic, the payload as
received (cut at :data:`MAX_KEPT_PAYLOAD`), the reason and when it arrived, and is listed
at ``GET /api/v1/ingest/rejects``.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import false, func, or_, select
from sqlmodel import Session

from traceability.models import IngestReject, IngestRejectPublic, IngestRejectsPublic

MAX_TOPIC = 1024
MAX_REASON = 2000
# A reject keeps the raw payload for inspection, but a megabyte of junk is not evidence.
MAX_KEPT_PAYLOAD = 64_000


def kept_text(payload: bytes | str | Any) -> str:
    """The payload as a reject keeps it: text, at most :data:`MAX_KEPT_PAYLOAD` characters.

    >>> kept_text(b"caf\\xc3\\xa9"), kept_text({"seq": 1})
    ('café', '{"seq":1}')
    """
    if isinstance(payload, bytes):
        return payload[:MAX_KEPT_PAYLOAD].decode("utf-8", errors="replace")
    if isinstance(payload, str):
        return payload[:MAX_KEPT_PAYLOAD]
    try:
        text = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = repr(payload)
    return text[:MAX_KEPT_PAYLOAD]


@dataclass(frozen=True, slots=True)
class Reject:
    """A message, or one object of it, that could not be accepted."""

    topic: str
    payload: str
    reason: str
    received_at: datetime
    # The broker sent the message before: the reject may be stored already.
    redelivered: bool = False

    @classmethod
    def of(
        cls,
        *,
        topic: str,
        payload: Any,
        reason: str,
        received_at: datetime,
        redelivered: bool = False,
    ) -> "Reject":
        """A reject cut to what the table keeps."""
        return cls(
            topic=topic[:MAX_TOPIC],
            payload=kept_text(payload),
            reason=reason[:MAX_REASON],
            received_at=received_at,
            redelivered=redelivered,
        )


def storable(text: str) -> str:
    """``text`` with NUL written as the escape ``\\u0000``: PostgreSQL's text cannot hold
    0x00, and a reject that cannot be stored would stop the ingester on every redelivery.

    >>> storable('{"seq": 1\\x00}')
    '{"seq": 1\\\\u0000}'
    """
    return text.replace("\x00", "\\u0000") if "\x00" in text else text


def store_rejects(session: Session, *, rejects: Iterable[Reject]) -> int:
    """Keep rejects in the caller's transaction (the caller commits); returns how many.

    A reject of a redelivered message is kept once: an ingester stopped between its commit
    and the broker's acknowledgement gets the message again, and stores it again only if
    no reject of the same topic, payload and reason arrived in :data:`REDELIVERY_WINDOW`.
    """
    rows = []
    for r in rejects:
        row = {
            "topic": storable(r.topic),
            "payload": storable(r.payload),
            "reason": storable(r.reason[:MAX_REASON]),
            "received_at": r.received_at,
        }
        if not (r.redelivered and _kept_before(session, row)):
            rows.append(row)
    if rows:
        session.execute(IngestReject.__table__.insert(), rows)
    return len(rows)


# How far back a redelivered message's reject is looked for (the broker redelivers on the
# ingester's next connection, normally seconds later).
REDELIVERY_WINDOW = timedelta(days=2)


def _kept_before(session: Session, row: dict[str, Any]) -> bool:
    """Whether a reject like ``row`` was stored within :data:`REDELIVERY_WINDOW` before it."""
    t = IngestReject.__table__.c
    found = session.execute(
        select(t.id)
        .where(
            t.received_at >= row["received_at"] - REDELIVERY_WINDOW,
            t.topic == row["topic"],
            t.payload == row["payload"],
            t.reason == row["reason"],
        )
        .limit(1)
    ).first()
    return found is not None


def list_rejects(
    session: Session,
    *,
    offset: int = 0,
    limit: int = 50,
    topic: str | None = None,
    drones: Collection[str] | None = None,
) -> IngestRejectsPublic:
    """Rejects, newest first: ``{"total", "items"}``; only those of ``drones``, if given."""
    where = [IngestReject.topic.contains(topic, autoescape=True)] if topic else []
    if drones is not None:
        where.append(or_(false(), *(IngestReject.topic.contains(f"/drones/{d}/") for d in drones)))
    total = session.execute(
        select(func.count()).select_from(IngestReject).where(*where)
    ).scalar_one()
    rows = session.execute(
        select(IngestReject)
        .where(*where)
        .order_by(IngestReject.id.desc())
        .offset(offset)
        .limit(limit)
    ).scalars()
    return IngestRejectsPublic(
        total=total, items=[IngestRejectPublic.model_validate(r) for r in rows]
    )
