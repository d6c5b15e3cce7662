"""The drone wire contract: topics, payload rules and the message schemas, written once.

Everything a drone may publish is described here and nowhere else
(``{prefix}/drones/{drone_id}/{telemetry|mission|status}``, UTF-8 JSON; see
``shared/INTERFACE.md``). The MQTT ingester, ``POST /api/v1/ingest/logs`` and
``agritrace ingest-log`` all validate against these schemas.

Every check of a telemetry point runs inside pydantic-core (bounds, finite numbers,
a time zone on ``ts``): a point is the hot path of the ingester, and one Python
validator per field would cost more than the rest of its validation. The one
leniency of the contract, ``spraying`` sent as 0 or 1, is a native union too.
:func:`describe` words the errors that pydantic names too tersely.
"""

import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec
import orjson
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationError
from pydantic import Field as PField
from pydantic_core import core_schema

from traceability.config import get_settings
from traceability.models import (
    CODE_LENGTH,
    Code,
    MissionSource,
    MissionType,
    NoControl,
    Unit,
    Visible,
    checked_text,
)

#: Topic kinds of the contract, ``{prefix}/drones/{drone_id}/{kind}``.
KINDS = ("telemetry", "mission", "status")
DRONE_ID_MAX = 64


class BadMessage(Exception):
    """A message that breaks the contract; ``str(exc)`` is the reason kept with the reject."""


# ---------------------------------------------------------------- topics and payloads


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
    problem = drone_id_problem(drone)
    if problem:
        raise BadMessage(problem.replace("drone_id", "drone_id in the topic", 1))
    if kind not in KINDS:
        raise BadMessage(f"unknown topic kind '{kind}': expected one of {', '.join(KINDS)}")
    return Topic(prefix=prefix, drone_id=drone, kind=kind)


def drone_id_problem(drone: str) -> str | None:
    """Why ``drone`` cannot name a drone (a topic's level, a log's ``drone_id``), or None.

    The rule of every stored text (:data:`~traceability.models.NoControl`): a NUL would be
    looked up on SQLite and refused by PostgreSQL, with the whole flight log around it.

    >>> drone_id_problem("BL-DR-001") is None, drone_id_problem("BL\\x00")
    (True, 'drone_id must not contain control characters (such as NUL)')
    """
    if not drone or len(drone) > DRONE_ID_MAX:
        return f"drone_id must be 1 to {DRONE_ID_MAX} characters"
    if drone.isascii() and drone.isprintable():
        return None
    try:
        checked_text(drone)
    except ValueError as exc:
        return f"drone_id {exc}"
    return None


def check_size(payload: bytes, *, max_bytes: int) -> None:
    """Refuse a payload bigger than the configured limit."""
    if len(payload) > max_bytes:
        raise BadMessage(f"payload is {len(payload):,} bytes, more than the {max_bytes:,} allowed")


def nan_hint(payload: bytes) -> str:
    """Why JSON that looks fine to a person may not be JSON (Python's ``json`` writes NaN)."""
    if b"NaN" in payload or b"Infinity" in payload:
        return " (NaN and Infinity are not JSON numbers)"
    return ""


def decode_json(payload: bytes) -> Any:
    """The JSON value of a payload (UTF-8; NaN and Infinity are not JSON and are refused).

    >>> decode_json(b'{"online": true}')
    {'online': True}
    """
    if not payload.strip():
        raise BadMessage("payload is empty")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"payload is not valid JSON{nan_hint(payload)}: {exc}") from exc


# ---------------------------------------------------------------- value types


def _num(**bounds: float) -> Any:
    """A finite JSON number within ``bounds``, checked natively (``"9.2"`` is no number)."""
    return Annotated[float, PField(strict=True, allow_inf_nan=False, **bounds)]


#: Agricultural drones with telemetry came into use after this: an earlier fix is a clock
#: that was never set (a GPS week rollover, a phone's 1970), not a flight.
EARLIEST_FIX = datetime(2015, 1, 1, tzinfo=UTC)


def max_ahead() -> timedelta:
    """How far ahead of its arrival a time may be (``AGRITRACE_MAX_CLOCK_AHEAD_H``, 24 h)."""
    return _hours(get_settings().max_clock_ahead_h)


@lru_cache
def _hours(hours: float) -> timedelta:
    # Asked once per telemetry message: the same few values, made once.
    return timedelta(hours=hours)


class _Timestamp:
    """``ts``: an RFC 3339 string with an offset, from :data:`EARLIEST_FIX` on.

    A chain of a strict string and a datetime parsed from it, so an epoch number or a
    boolean is refused (the contract says RFC 3339) while the check stays native.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.chain_schema(
            [
                # A date and a time: not an epoch number, even written as a string.
                core_schema.str_schema(strict=True, pattern=r"^\d{4}-\d\d-\d\d[Tt ]"),
                core_schema.datetime_schema(tz_constraint="aware", ge=EARLIEST_FIX),
            ]
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, _schema: Any, _handler: Any) -> dict:
        return {"type": "string", "format": "date-time"}


#: Free text from a device: the rule of every text the API stores (:data:`models.Name`: no
#: NUL or other control, no bidirectional control, something visible, NFC so that one
#: name typed on two phones is one name), so both backends store the same.
DeviceText = Annotated[str, PField(max_length=64), NoControl, Visible]


class _ApplicatorState:
    """``spraying``: a JSON boolean, or 0 / 1 from devices that send numbers.

    "yes" or 2 are not a clear applicator state. A union with its own error keeps the
    check native and the reason short.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.union_schema(
            [
                core_schema.bool_schema(strict=True),
                core_schema.no_info_after_validator_function(
                    bool, core_schema.literal_schema([0, 1])
                ),
            ],
            # The boolean first: a JSON true/false is decided without trying the rest.
            mode="left_to_right",
            custom_error_type="applicator_state",
            custom_error_message="spraying must be true or false",
        )


Swath = _num(gt=0, le=100)

# pydantic's words for these are too terse for an operator reading the rejects.
_WORDING = {
    "timezone_aware": "timestamp must carry a UTC offset (e.g. 2026-05-01T08:00:00+07:00)",
    "finite_number": "must be a finite number (NaN and Infinity are not allowed)",
    "int_type": "must be a valid integer: a JSON integer, not a string, boolean or fraction",
    "int_from_float": "must be a valid integer: a JSON integer, not a fraction",
    "float_type": "must be a valid number: a JSON number, not a string or boolean",
    ("ts", "string_type"): "must be an RFC 3339 string (e.g. 2026-05-01T08:00:00+07:00), "
    "not a number or boolean",
    ("ts", "string_pattern_mismatch"): "must be an RFC 3339 string "
    "(e.g. 2026-05-01T08:00:00+07:00), not an epoch number",
    ("ts", "greater_than_equal"): f"is before {EARLIEST_FIX.date().isoformat()}: "
    "the device's clock is not set",
}


def _words(err: Any) -> str:
    loc = err.get("loc", ())
    key = (str(loc[0]) if loc else "", err["type"])
    return _WORDING.get(key) or _WORDING.get(err["type"]) or err.get("msg", "invalid")


def ahead_reason(ts: datetime, received_at: datetime) -> str | None:
    """Why ``ts`` is implausibly far ahead of when its message arrived, or None."""
    ahead = max_ahead()
    if ts - received_at > ahead:
        return (
            f"ts: {ts.isoformat()} is more than {ahead.total_seconds() / 3600:g} h ahead of "
            "its arrival "
            f"({received_at.isoformat(timespec='seconds')}): the device's clock is wrong"
        )
    return None


def describe(exc: ValidationError, *, limit: int = 5) -> str:
    """A short, human reason from a pydantic error: ``lat: Input should be ...; ...``."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "payload"
        parts.append(f"{where}: {_words(err)}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more problem(s)")
    return "; ".join(parts)


# ---------------------------------------------------------------- the messages


class TelemetryIn(BaseModel):
    """One telemetry fix as a drone publishes it.

    Each field is a column of the ``telemetry`` table (which adds ``drone_code``): the
    store writes a point's values, in field order, under these names.

    >>> p = TelemetryIn.model_validate_json(
    ...     b'{"mission_id": "M1", "seq": 7, "ts": "2026-03-01T08:00:00+07:00",'
    ...     b' "lat": 9.23, "lon": 105.43, "spraying": 1}'
    ... )
    >>> p.seq, p.spraying, p.ts.isoformat()
    (7, True, '2026-03-01T08:00:00+07:00')
    """

    # ``ts`` keeps the offset it was sent with (the same instant; the store keeps UTC).
    model_config = ConfigDict(extra="ignore")

    mission_id: Code
    seq: Annotated[int, PField(strict=True, ge=0, lt=2**62)]
    ts: _Timestamp
    lat: _num(ge=-90, le=90)
    lon: _num(ge=-180, le=180)
    alt_m: _num() | None = None
    speed_mps: _num(ge=0, le=200) | None = None
    heading_deg: _num() | None = None
    spraying: _ApplicatorState
    flow_lpm: _num(ge=0, le=1000) | None = None
    flow_kgpm: _num(ge=0, le=1000) | None = None
    swath_m: Swath | None = None
    tank_remaining: _num() | None = None
    battery_pct: _num() | None = None


#: A point's keys, in the order of its values: the ``telemetry`` columns a point fills.
POINT_FIELDS: tuple[str, ...] = tuple(TelemetryIn.model_fields)

#: The pattern of a :data:`~traceability.models.Code`, for Python's ``re``: anchored with
#: ``\Z``, since ``$`` also matches before a final line break (which the schema strips).
CODE_PATTERN = re.compile(Code.__metadata__[0].pattern.removesuffix("$") + r"\Z")

# Unbounded numbers get the largest finite floats as bounds: a JSON number too big for a
# float decodes to infinity, which the contract refuses.
_FINITE = {"ge": -sys.float_info.max, "le": sys.float_info.max}


def _bounded(**bounds: float) -> Any:
    """A JSON number within ``bounds`` for msgspec (finite in any case)."""
    return Annotated[float, msgspec.Meta(**(bounds or _FINITE))]


class Point(msgspec.Struct, kw_only=True, gc=False):
    """A valid telemetry point as a batch holds it: :class:`TelemetryIn`'s fields, in order.

    Also the fast decoder of a telemetry payload (``validate.py``), msgspec checking the
    contract's types and bounds natively at a fraction of pydantic's cost per point. It
    must never accept what :class:`TelemetryIn` refuses, nor read a value otherwise
    (``tests/test_ingest_contract.py`` pins both): what it refuses goes to
    :class:`TelemetryIn`, which words the reasons. Left to that precise road on purpose:
    ``spraying`` sent as 0 or 1, a mission id with spaces around it (stripped there),
    ``ts`` before :data:`EARLIEST_FIX` or with more than six decimals (pydantic truncates
    them, msgspec would round), a payload that is not UTF-8. Structs without a
    garbage-collector header: a point holds no containers, and thousands are made per
    batch.
    """

    # The pattern of a code is checked once per message, on its distinct mission ids
    # (:data:`CODE_PATTERN`): here it would run on every point, and double the cost.
    mission_id: Annotated[str, msgspec.Meta(min_length=1, max_length=CODE_LENGTH)]
    seq: Annotated[int, msgspec.Meta(ge=0, lt=2**62)]
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    lat: _bounded(ge=-90, le=90)
    lon: _bounded(ge=-180, le=180)
    alt_m: _bounded() | None = None
    speed_mps: _bounded(ge=0, le=200) | None = None
    heading_deg: _bounded() | None = None
    spraying: bool
    flow_lpm: _bounded(ge=0, le=1000) | None = None
    flow_kgpm: _bounded(ge=0, le=1000) | None = None
    swath_m: _bounded(gt=0, le=100) | None = None
    tank_remaining: _bounded() | None = None
    battery_pct: _bounded() | None = None

    @classmethod
    def of(cls, point: TelemetryIn) -> "Point":
        """The point :class:`TelemetryIn` validated."""
        return cls(**point.__dict__)

    def values(self) -> tuple:
        """The point's values in :data:`POINT_FIELDS` order."""
        return msgspec.structs.astuple(self)

    def as_json(self) -> dict[str, Any]:
        """The point as JSON values, as a reject keeps it (the schema's own rendering)."""
        return TelemetryIn.model_construct(**msgspec.structs.asdict(self)).model_dump(mode="json")


class TankMixIn(BaseModel):
    """How much product one litre of tank mix holds (an extension of the start event)."""

    model_config = ConfigDict(extra="ignore")

    product_per_l: _num(gt=0, le=1000)
    product_unit: Unit | None = None


class MissionStartIn(BaseModel):
    """``{"event": "start", ...}`` on the mission topic."""

    model_config = ConfigDict(extra="ignore")

    event: Literal["start"]
    mission_id: Code
    ts: _Timestamp
    type: MissionType
    product_code: Code | None = None
    swath_m: Swath | None = None
    operator_id: DeviceText | None = None
    planned_field_codes: list[Code] = PField(default_factory=list, max_length=1000)
    tank_mix: TankMixIn | None = None
    # What the record was translated from (a bridge publishing a MAVLink drone's flight
    # says "mavlink"); absent, the mission keeps the source it was created with.
    source: MissionSource | None = None
    # "unknown": the drone cannot say when its sprayer is on (a MAVLink vehicle whose
    # parameters name no pump output); a later start without it says the state is known.
    sprayer_state: Literal["unknown"] | None = None


class MissionEndIn(BaseModel):
    """``{"event": "end", ...}`` on the mission topic."""

    model_config = ConfigDict(extra="ignore")

    event: Literal["end"]
    mission_id: Code
    ts: _Timestamp
    reported_area_ha: _num(ge=0, le=100_000) | None = None
    reported_amount: _num(ge=0, le=1_000_000) | None = None


class StatusIn(BaseModel):
    """The retained ``status`` topic (also the Last Will)."""

    model_config = ConfigDict(extra="ignore")

    online: Annotated[bool, PField(strict=True)]
    ts: _Timestamp | None = None
