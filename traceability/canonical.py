"""The canonical bytes of a diary entry (hash version 2) and of the log's leaves.

A v2 entry hash is SHA-256 over RFC 8785 (JSON Canonicalization Scheme) bytes of a
fixed set of keys (:data:`ENTRY_V2_KEYS`) that name things by what they are — the
field's code, the product's code, the author's role, the drone mission's own id, the
corrected entry's place in the field's chain — never by a database row id, and never
the season (a season is decided when a lot is judged, by time). docs/transparency.md
gives the form with example bytes and hash. Pure functions: no database.
"""

import hashlib
import math
from datetime import UTC, datetime
from typing import Any

import rfc8785

#: Every key of a v2 entry's canonical object, each present (``null`` when unset).
ENTRY_V2_KEYS = (
    "v",
    "field",
    "seq",
    "prev",
    "occurred_at",
    "recorded_at",
    "activity",
    "product",
    "quantity",
    "unit",
    "area_ha",
    "note",
    "counterparty",
    "applied_by",
    "straw_handling",
    "corrects_seq",
    "retracts",
    "source",
    "mission",
    "client_id",
    "author_role",
    "chained",
)

#: Keys added to v2 after entries were first hashed with it: present only when set, so
#: every entry written before them keeps its hash (a straw entry's amount, t/ha).
ENTRY_V2_OPTIONAL_KEYS = ("straw_t_per_ha",)


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``value``; a number JSON cannot write (NaN, ±∞,
    never expected in a record) is written ``null``, as the v1 form wrote it.

    >>> jcs({"b": 2.0, "a": "Cà Mau", "c": float("nan")})
    b'{"a":"C\\xc3\\xa0 Mau","b":2,"c":null}'
    """
    try:
        return rfc8785.dumps(value)
    except rfc8785.FloatDomainError:
        return rfc8785.dumps(_finite(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def jcs_plain_string(s: str) -> bytes | None:
    """``s`` as RFC 8785 writes it when it is printable ASCII with nothing to escape (no
    ``"`` nor ``\\``), else None (then use :func:`jcs`).

    >>> jcs_plain_string("GR-0042"), jcs_plain_string('a"b'), jcs_plain_string("Cà")
    (b'"GR-0042"', None, None)
    """
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return b'"' + s.encode() + b'"'
    return None


def utc_text(ts: datetime | None) -> str | None:
    """A time as RFC 3339 in UTC with microseconds and ``Z`` (a naive time is UTC).

    >>> from datetime import timedelta, timezone
    >>> utc_text(datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=7))))
    '2026-03-01T02:00:00.000000Z'
    """
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_v2(
    *,
    field_code: str,
    chain_seq: int,
    prev_hash: str,
    occurred_at: datetime,
    recorded_at: datetime,
    activity: str,
    product_code: str | None = None,
    quantity: float | None = None,
    unit: str | None = None,
    area_ha: float | None = None,
    note: str | None = None,
    counterparty: str | None = None,
    applied_by: str | None = None,
    straw_handling: str | None = None,
    corrects_seq: int | None = None,
    retracts: bool = False,
    source: str = "manual",
    mission: str | None = None,
    client_id: str | None = None,
    author_role: str | None = None,
    chained: dict | None = None,
    straw_t_per_ha: float | None = None,
) -> dict[str, Any]:
    """The canonical object of a v2 diary entry (hash it with :func:`entry_hash_v2`).

    The keys of :data:`ENTRY_V2_OPTIONAL_KEYS` appear only when set.

    >>> from datetime import UTC
    >>> at = datetime(2026, 3, 1, tzinfo=UTC)
    >>> common = dict(field_code="F", chain_seq=1, prev_hash="0" * 64, occurred_at=at,
    ...               recorded_at=at, activity="straw")
    >>> "straw_t_per_ha" in entry_v2(**common), entry_v2(**common, straw_t_per_ha=5.5)[
    ...     "straw_t_per_ha"]
    (False, 5.5)
    """
    optional = {"straw_t_per_ha": straw_t_per_ha}
    return {
        "v": 2,
        "field": field_code,
        "seq": chain_seq,
        "prev": prev_hash,
        "occurred_at": utc_text(occurred_at),
        "recorded_at": utc_text(recorded_at),
        "activity": activity,
        "product": product_code,
        "quantity": quantity,
        "unit": unit,
        "area_ha": area_ha,
        "note": note,
        "counterparty": counterparty,
        "applied_by": applied_by,
        "straw_handling": straw_handling,
        "corrects_seq": corrects_seq,
        "retracts": bool(retracts),
        "source": source,
        "mission": mission,
        "client_id": client_id,
        "author_role": author_role,
        "chained": chained,
    } | {key: value for key, value in optional.items() if value is not None}


def entry_hash_v2(content: dict[str, Any]) -> str:
    """SHA-256, in hex, of the RFC 8785 bytes of a v2 entry's canonical object."""
    return hashlib.sha256(jcs(content)).hexdigest()
