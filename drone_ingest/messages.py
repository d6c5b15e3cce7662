"""The topic contract: a small frozen message, topic parsing and payload decoding.

Nothing here knows about paho: the client turns what the broker delivers into a
:class:`Message`, and everything downstream handles only that.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from traceability.models import utcnow

#: Topic kinds of the contract, ``{prefix}/drones/{drone_id}/{kind}``.
KINDS = ("telemetry", "mission", "status")
_DRONE_MAX = 64


class BadMessage(Exception):
    """A message that breaks the contract; ``str(exc)`` is the reason kept with the reject."""


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message as the ingester sees it.

    ``mid`` and ``qos`` are what the acknowledgement needs; ``generation`` names the
    broker connection it came on, so an acknowledgement is never sent on a later one.
    """

    topic: str
    payload: bytes
    qos: int = 0
    mid: int = 0
    retain: bool = False
    generation: int = 0
    received_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class Topic:
    """The levels of a contract topic."""

    prefix: str
    drone_id: str
    kind: str


def parse_topic(topic: str, *, prefix: str) -> Topic:
    """Split ``{prefix}/drones/{drone_id}/{kind}``; raise :class:`BadMessage` otherwise.

    >>> parse_topic("agri/drones/BL-DR-001/telemetry", prefix="agri")
    Topic(prefix='agri', drone_id='BL-DR-001', kind='telemetry')
    """
    parts = topic.split("/")
    head = prefix.split("/")
    if len(parts) != len(head) + 3 or parts[: len(head)] != head or parts[len(head)] != "drones":
        raise BadMessage(f"topic is outside the contract '{prefix}/drones/{{drone_id}}/{{kind}}'")
    drone, kind = parts[-2], parts[-1]
    if not drone or len(drone) > _DRONE_MAX:
        raise BadMessage(f"drone_id in the topic must be 1 to {_DRONE_MAX} characters")
    if kind not in KINDS:
        raise BadMessage(f"unknown topic kind '{kind}': expected one of {', '.join(KINDS)}")
    return Topic(prefix=prefix, drone_id=drone, kind=kind)


def check_size(payload: bytes, *, max_bytes: int) -> None:
    """Refuse a payload bigger than the configured limit."""
    if len(payload) > max_bytes:
        raise BadMessage(f"payload is {len(payload):,} bytes, more than the {max_bytes:,} allowed")


def decode_json(payload: bytes) -> Any:
    """The JSON value of a payload (UTF-8; NaN and Infinity are not JSON and are refused)."""
    if not payload.strip():
        raise BadMessage("payload is empty")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        hint = (
            " (NaN and Infinity are not JSON numbers)"
            if b"NaN" in payload or b"Infinity" in payload
            else ""
        )
        raise BadMessage(f"payload is not valid JSON{hint}: {exc}") from exc
