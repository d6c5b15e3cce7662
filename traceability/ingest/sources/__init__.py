"""Adapters: other fleets' records translated into the contract, for the one pipeline.

Each module reads one kind of record and yields what :func:`~traceability.ingest.logs.log_batch`
takes: ``(where, object)`` pairs, the object a contract telemetry point or mission event
(a dict validated by the pipeline like any MQTT message), or the text of why that part
could not be read (kept as a reject, counted and printed). Adapters translate; storing,
exactly-once keys, rejects and measuring are the pipeline's.

- :mod:`.isoxml` — ISO 11783-10 TaskData: a task's time logs (TLG) and its partfields;
- :mod:`.mavlink` — MAVLink telemetry logs (``.tlog``, ``.bin`` dataflash) and live streams;
- :mod:`.columns` — a vendor's flight-record CSV read through a column mapping.

Keys shared by every adapter, so that one flight read twice, or live and then from its
log, is the same points:

- a point's ``seq`` is its fix time in milliseconds since the UNIX epoch (a drone is in
  one place at a time, so its fix times never collide);
- a mission's id is the drone's code and the UTC second its first fix was taken.
"""

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from traceability.models import CODE_LENGTH, MissionSource

#: ``(where, contract object or the reason it could not be read)``, as a log yields them.
Record = tuple[str, Any]


@dataclass(frozen=True, slots=True)
class Device:
    """A machine a record names, to be registered as a drone when it is not yet."""

    code: str
    model: str | None = None
    swath_m: float | None = None


@dataclass(slots=True)
class Translation:
    """What an adapter read: contract records, the source they came from, their machines."""

    origin: MissionSource
    records: list[Record] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)

    def unread(self, where: str, reason: str) -> None:
        """Keep what could not be read, with its reason (a reject of the pipeline)."""
        self.records.append((where, reason))

    def extend(self, records: Iterable[Record]) -> None:
        """Add records."""
        self.records.extend(records)


def fix_seq(ts: datetime) -> int:
    """The exactly-once key of a fix: its UTC time in whole milliseconds since the epoch.

    >>> fix_seq(datetime(2026, 3, 1, 1, 0, 0, 123456, tzinfo=UTC))
    1772326800123
    """
    return round(ts.timestamp() * 1000)


def mission_code(drone: str, started: datetime) -> str:
    """A mission id from its drone and first fix: the same flight always gets the same id.

    >>> mission_code("BL-DR-7", datetime(2026, 3, 1, 1, 2, 3, tzinfo=UTC))
    'BL-DR-7-20260301T010203Z'
    """
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{drone[: CODE_LENGTH - len(stamp) - 1]}-{stamp}"


def as_code(text: str | None) -> str | None:
    """A machine's or product's name as a code (letters, digits, ``-``, ``_``, ``.``).

    >>> as_code(" Krone BiG X 1180 "), as_code("Ruộng Đồng 2"), as_code("***")
    ('Krone-BiG-X-1180', 'Ruong-Dong-2', None)
    """
    if not text:
        return None
    # Vietnamese letters lose their marks (đ is a letter of its own, not a d with a mark).
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    out, dash = [], False
    for c in plain.strip():
        if unicodedata.combining(c):
            continue
        if c.isascii() and (c.isalnum() or c in "_."):
            out.append(c)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    code = "".join(out).strip("-.")[:CODE_LENGTH].rstrip("-.")
    return code or None


def iso(ts: datetime) -> str:
    """RFC 3339 text of an aware time, as the contract takes it."""
    return ts.isoformat()


def translate(
    data: bytes,
    *,
    name: str,
    drone: str | None = None,
    columns: str | None = None,
    pump_lpm: float | None = None,
) -> Translation | None:
    """The records of a log in another fleet's format, or None for agritrace's own.

    A zip is a TaskData set, ``.tlog`` or ``.bin`` (or a MAVLink frame's first byte) a
    MAVLink log, and a CSV read with ``columns`` a vendor's flight records.
    """
    lower = name.lower()
    if data[:4] == b"PK\x03\x04":
        from traceability.ingest.sources import isoxml

        return isoxml.read_taskdata(isoxml.taskdata_files(data), drone=drone)
    if lower.endswith((".tlog", ".bin")):
        from traceability.ingest.sources import mavlink

        return mavlink.read_log(data, name=name, drone=drone, pump_lpm=pump_lpm)
    if columns is not None:
        from traceability.ingest.sources import columns as mapped

        return mapped.read_csv(data, name=name, columns=columns, drone=drone)
    return None
