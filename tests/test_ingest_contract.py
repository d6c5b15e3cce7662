"""The wire contract: one schema, the same verdict from raw JSON bytes and decoded objects.

The ingester validates a telemetry payload straight from its bytes; when that fails it
decodes the payload and checks each object on its own, with the same schema. This table
pins that both roads accept and refuse alike, and that the reasons read well.
"""

import json
import math
import sys

import msgspec
import orjson
import pytest
from pydantic import ValidationError

from traceability.ingest.batch import IngestBatch
from traceability.ingest.contract import (
    CODE_PATTERN,
    POINT_FIELDS,
    MissionEndIn,
    MissionStartIn,
    Point,
    StatusIn,
    TelemetryIn,
    describe,
)
from traceability.ingest.validate import POINT, POINTS, _decode_fast, add_telemetry
from traceability.models import TelemetryPoint

GOOD = {
    "mission_id": "M1",
    "seq": 7,
    "ts": "2026-03-01T01:00:00+00:00",
    "lat": 9.23,
    "lon": 105.43,
    "alt_m": 3.0,
    "speed_mps": 5.0,
    "heading_deg": 90.0,
    "spraying": True,
    "flow_lpm": 2.0,
    "swath_m": 6.5,
    "tank_remaining": 30.0,
    "battery_pct": 80.0,
}
REQUIRED = ("mission_id", "seq", "ts", "lat", "lon", "spraying")


def without(key: str) -> dict:
    return {k: v for k, v in GOOD.items() if k != key}


# (label, point, accepted, words the reason must contain)
TABLE = [
    ("complete", GOOD, True, None),
    ("only the required keys", {k: GOOD[k] for k in REQUIRED}, True, None),
    ("optional keys null", GOOD | {"alt_m": None, "flow_lpm": None}, True, None),
    ("unknown keys are ignored", GOOD | {"rtk_fix": "float"}, True, None),
    ("spraying 1", GOOD | {"spraying": 1}, True, None),
    ("spraying 0", GOOD | {"spraying": 0}, True, None),
    ("spraying 1.0", GOOD | {"spraying": 1.0}, True, None),
    ("ts with an offset", GOOD | {"ts": "2026-03-01T08:00:00+07:00"}, True, None),
    ("ts in Zulu", GOOD | {"ts": "2026-03-01T01:00:00Z"}, True, None),
    ("integer lat", GOOD | {"lat": 9}, True, None),
    ("granules", GOOD | {"flow_lpm": None, "flow_kgpm": 1.5}, True, None),
    ("bounds inclusive", GOOD | {"lat": -90.0, "lon": 180.0, "swath_m": 100.0}, True, None),
    ("spraying 'yes'", GOOD | {"spraying": "yes"}, False, "spraying must be true or false"),
    ("spraying 2", GOOD | {"spraying": 2}, False, "spraying must be true or false"),
    ("spraying null", GOOD | {"spraying": None}, False, "spraying must be true or false"),
    ("spraying 'true'", GOOD | {"spraying": "true"}, False, "spraying must be true or false"),
    ("no ts", without("ts"), False, "ts: Field required"),
    ("no seq", without("seq"), False, "seq: Field required"),
    ("naive ts", GOOD | {"ts": "2026-03-01T08:00:00"}, False, "UTC offset"),
    ("not a time", GOOD | {"ts": "yesterday"}, False, "ts:"),
    ("lat north", GOOD | {"lat": "north"}, False, "valid number"),
    ("lat 91", GOOD | {"lat": 91.0}, False, "less than or equal to 90"),
    ("lon -181", GOOD | {"lon": -181.0}, False, "greater than or equal to -180"),
    ("negative flow", GOOD | {"flow_lpm": -1.0}, False, "greater than or equal to 0"),
    ("zero swath", GOOD | {"swath_m": 0.0}, False, "greater than 0"),
    ("negative seq", GOOD | {"seq": -1}, False, "seq"),
    ("seq too big", GOOD | {"seq": 2**62}, False, "seq"),
    ("fractional seq", GOOD | {"seq": 1.5}, False, "seq"),
    ("mission id with a slash", GOOD | {"mission_id": "a/b"}, False, "mission_id"),
    ("empty mission id", GOOD | {"mission_id": ""}, False, "mission_id"),
    ("NaN lat", GOOD | {"lat": math.nan}, False, "finite number"),
    ("Infinity altitude", GOOD | {"alt_m": math.inf}, False, "finite number"),
    ("-Infinity battery", GOOD | {"battery_pct": -math.inf}, False, "finite number"),
]


def _verdict(validate, value):
    try:
        return True, validate(value).model_dump()
    except ValidationError as exc:
        return False, [(e["type"], e["loc"]) for e in exc.errors()]


@pytest.mark.parametrize(("label", "point", "accepted", "words"), TABLE, ids=[t[0] for t in TABLE])
def test_bytes_and_objects_get_the_same_verdict(label, point, accepted, words):
    # Python's json writes NaN and Infinity literals, as a careless device would.
    raw = json.dumps(point).encode()
    from_bytes = _verdict(POINT.validate_json, raw)
    from_object = _verdict(POINT.validate_python, point)
    assert from_bytes == from_object
    assert from_bytes[0] is accepted
    if accepted:
        assert isinstance(from_bytes[1]["spraying"], bool)
    else:
        with pytest.raises(ValidationError) as info:
            POINT.validate_python(point)
        assert words in describe(info.value)


def test_a_mixed_array_keeps_the_good_points_and_rejects_each_bad_one():
    points = [dict(p, seq=i) for i, (_, p, _, _) in enumerate(TABLE) if "seq" in p]
    points = [
        p
        for p in points
        if not any(isinstance(v, float) and not math.isfinite(v) for v in p.values())
    ]
    good = sum(1 for p in points if _verdict(POINT.validate_python, p)[0])
    batch = IngestBatch()
    src = batch.source(topic="agri/drones/D1/telemetry", payload=b"")
    assert add_telemetry(batch, src=src, drone="D1", payload=orjson.dumps(points)) == good
    assert len(batch.points) == good
    assert len(batch.rejects) == len(points) - good
    assert all(r.reason.startswith("telemetry point ") for r in batch.rejects)


def test_a_good_array_takes_one_pass_and_keeps_every_point():
    points = [dict(GOOD, seq=i) for i in range(50)]
    batch = IngestBatch()
    src = batch.source(topic="agri/drones/D1/telemetry", payload=b"")
    assert add_telemetry(batch, src=src, drone="D1", payload=orjson.dumps(points)) == 50
    assert [p.seq for _, _, p in batch.points] == list(range(50)) and not batch.rejects


def test_a_point_fills_telemetry_columns_and_the_required_ones_are_not_null():
    table = TelemetryPoint.__table__
    assert set(POINT_FIELDS) <= set(table.c.keys())
    required = {name for name, f in TelemetryIn.model_fields.items() if f.is_required()}
    assert required == set(REQUIRED)
    assert {c.name for c in table.c if not c.nullable} - {"id", "drone_code"} == required


def test_mission_events_and_status():
    start = MissionStartIn.model_validate(
        {
            "event": "start",
            "mission_id": "M1",
            "ts": "2026-03-01T08:00:00+07:00",
            "type": "spray",
            "product_code": "PX",
            "swath_m": 6.5,
            "tank_mix": {"product_per_l": 0.015, "product_unit": "kg"},
        }
    )
    assert start.tank_mix.product_per_l == 0.015 and start.planned_field_codes == []
    end = MissionEndIn.model_validate(
        {"event": "end", "mission_id": "M1", "ts": "2026-03-01T09:00:00Z", "reported_amount": 3}
    )
    assert end.reported_amount == 3.0
    assert StatusIn.model_validate({"online": False}).ts is None
    for bad, words in (
        ({"event": "end", "mission_id": "M1", "ts": "2026-03-01T09:00:00"}, "UTC offset"),
        (
            {
                "event": "end",
                "mission_id": "M1",
                "ts": "2026-03-01T09:00:00Z",
                "reported_area_ha": math.nan,
            },
            "finite number",
        ),
    ):
        with pytest.raises(ValidationError) as info:
            MissionEndIn.model_validate(bad)
        assert words in describe(info.value)
    with pytest.raises(ValidationError):
        MissionStartIn.model_validate(
            {
                "event": "start",
                "mission_id": "M1",
                "ts": "2026-03-01T08:00:00Z",
                "type": "spray",
                "tank_mix": {"product_per_l": 0},
            }
        )


# ---------------------------------------------------------------- the fast road

# Payloads on the edges of what msgspec and pydantic read alike (raw bytes, one object).
_G = orjson.dumps(GOOD)[:-1]
EDGES = [
    _G + b',"seq":8}',  # a repeated key: the last one counts
    _G + b',"alt_m":1e999}',  # too big for a float: infinity
    _G + b',"x":1e999}',  # the same in a key that is ignored
    _G + b',"alt_m":179769313486231580000000000000000000000000000000000000000000000000000000}',
    _G + b',"lat":1e-400}',  # too small for a float: zero
    _G + b',"seq":-0}',
    _G + b',"lat":-0}',
    _G + b',"seq":1E2}',
    _G + b',"seq":0007}',
    _G + b',"lat":9.}',
    _G + b',"alt_m":NaN}',
    _G + b',"x":"\xff"}',  # not UTF-8, in a key that is ignored
    _G + b',"x":"\\ud800"}',
    _G + b',"x":[1,{"a":nul}]}',
    _G + b"} x",
    b"  " + _G + b"}\n ",
    _G + b',"mission_id":" M1 "}',  # stripped by the schema
    _G + b',"mission_id":"M1\\n"}',
    _G + b',"mission_id":"M\\u0031"}',
    _G + b',"spraying":1}',
    _G + b',"spraying":false}',
    _G + b',"swath_m":null}',
    _G + b',"swath_m":100}',
    _G + b',"swath_m":100.00000000000001}',
    _G + b',"speed_mps":true}',
    b'{"seq":7,"ts":"2026-03-01T01:00:00Z","lat":9.2,"lon":105.4,"spraying":true}',
    b"{}",
    b"null",
    b"7",
] + [
    _G + b',"ts":"' + ts.encode() + b'"}'
    for ts in (
        "2026-03-01t08:00:00+07:00",
        "2026-03-01 08:00:00+07:00",
        "2026-03-01T08:00:00z",
        "2026-03-01T08:00+07:00",
        "2026-03-01T08:00:00.123Z",
        "2026-03-01T08:00:00.123456Z",
        "2026-03-01T08:00:00.1234567Z",  # pydantic truncates, msgspec would round
        "2026-03-01T08:00:00.9999999+07:00",
        "2026-03-01T08:00:00.123456789Z",
        "2026-03-01T08:00:00,5Z",
        "2026-03-01T08:00:00+0700",
        "2026-03-01T08:00:00+07",
        "2026-03-01T08:00:00-00:00",
        "2026-03-01T08:00:00+23:59",
        "2026-03-01T08:00:00+24:00",
        "2026-03-01T08:00:60Z",
        "2026-03-01T24:00:00Z",
        "2026-02-29T08:00:00Z",
        "2014-12-31T23:59:59Z",  # before the earliest plausible fix
        "2015-01-01T00:00:00Z",
        "2015-01-01T06:59:59+07:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "20260301T080000Z",
        "2026-03-01",
        "1772326800",
    )
]


def _schema(raw: bytes) -> list[tuple] | None:
    """The schema's reading of ``raw`` (values and time offsets), or None if it refuses."""
    try:
        if raw.lstrip()[:1] == b"[":
            points = POINTS.validate_json(raw)
        else:
            points = [POINT.validate_json(raw)]
    except ValidationError:
        return None
    return [(*p.__dict__.values(), p.ts.utcoffset()) for p in points]


CASES = [json.dumps(p).encode() for _, p, _, _ in TABLE] + EDGES


@pytest.mark.parametrize("raw", CASES + [b"[" + r + b"]" for r in CASES] + [b"[]"])
def test_the_fast_road_accepts_only_what_the_schema_accepts_and_reads_it_alike(raw):
    # msgspec may leave a payload to the schema; it may never take one the schema
    # refuses, nor read a value (or a time's offset) otherwise.
    fast = _decode_fast(raw)
    if fast is not None:
        assert [(*p.values(), p.ts.utcoffset()) for p in fast] == _schema(raw)


def test_the_fast_road_takes_the_common_payloads():
    assert _decode_fast(orjson.dumps([GOOD] * 3)) is not None
    assert _decode_fast(orjson.dumps({k: GOOD[k] for k in REQUIRED})) is not None
    # A point in a flight log's array may carry an offset, Zulu or fractions of a second.
    zulu = GOOD | {"ts": "2026-03-01T01:00:00.25Z", "lat": 9.230010000000001}
    assert _decode_fast(orjson.dumps([zulu, GOOD])) is not None


_HUGE = (sys.float_info.max, -sys.float_info.max)


def _bounds(prop: dict) -> dict:
    branch = prop.get("anyOf", [prop])[0]  # the value, not the null of an optional field
    keep = ("type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    keep += ("minLength", "maxLength", "pattern")
    found = {k: v for k, v in branch.items() if k in keep and v not in _HUGE}
    if "pattern" in found:
        found["pattern"] = found["pattern"].replace("\\Z", "$")
    return found


def test_the_fast_struct_has_the_schemas_fields_bounds_and_required_keys():
    slow = TelemetryIn.model_json_schema()
    fast = msgspec.json.schema(Point)["$defs"]["Point"]
    assert tuple(fast["properties"]) == tuple(slow["properties"]) == POINT_FIELDS
    assert set(fast["required"]) == set(slow["required"]) == set(REQUIRED)
    for name, prop in slow["properties"].items():
        # spraying: the schema also takes 0 and 1, which msgspec leaves to it.
        # mission_id: its pattern is checked on the message's distinct ids.
        want = _bounds(prop)
        if name == "mission_id":
            assert CODE_PATTERN.pattern.replace("\\Z", "$") == want.pop("pattern")
        assert _bounds(fast["properties"][name]) == want, name
