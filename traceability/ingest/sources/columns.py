"""A vendor's flight-record CSV, read through a column mapping into the contract.

``--columns lat=Latitude,lon=Longitude,time=Time,spraying=Spray,flow=Flow`` names, for
each contract key, the column that holds it; a column may end in ``*FACTOR`` to convert
its unit (``alt=height_above_takeoff(feet)*0.3048``). The keys:

=============  ==========================================================================
``lat, lon``   WGS84 degrees (required)
``time``       ISO 8601 (an offset, else ``tz``), or UNIX seconds / milliseconds (required)
``elapsed_ms`` milliseconds since the log began: added to the first row's ``time`` where
               ``time`` has whole seconds only
``tz``         the offset of times written without one (default +07:00, Vietnam)
``spraying``   1/0, true/false, yes/no, on/off, or a number (on above 0); without it,
               on while ``flow`` is above 0
``flow``       L/min; ``flow_kg`` kg/min
``alt, speed, heading, swath, battery``  metres, m/s, degrees, metres, percent
``mission``    a mission id column (else one mission per file); ``drone`` a drone column
=============  ==========================================================================

A saved mapping may be named instead (``--columns airdata``): only formats whose columns
are documented in public sources are saved here, each with its source.
"""

import csv
import io
import math
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from traceability.errors import InvalidInput
from traceability.ingest.sources import Translation, fix_seq, iso, mission_code
from traceability.models import MissionSource
from traceability.timezone import VN_TZ

#: Saved mappings, each a format documented in public sources (named beside it).
SAVED: dict[str, str] = {
    # Airdata UAV's CSV export of DJI flight records, metric units. Its header
    # (``time(millisecond),datetime(utc),latitude,longitude,height_above_takeoff(meters),
    # ...,speed(m/s),...,compass_heading(degrees),...,battery_percent``) is documented by
    # the projects that read it, e.g. drone-comp/m30ttools's README; ``datetime(utc)`` has
    # whole seconds, ``time(millisecond)`` the time since the log began. It carries no
    # applicator state: a flight read with it is never spraying.
    "airdata": "lat=latitude,lon=longitude,time=datetime(utc),elapsed_ms=time(millisecond),"
    "tz=+00:00,alt=height_above_takeoff(meters),speed=speed(m/s),"
    "heading=compass_heading(degrees),battery=battery_percent",
    # The same export in imperial units (feet, miles per hour).
    "airdata-imperial": "lat=latitude,lon=longitude,time=datetime(utc),"
    "elapsed_ms=time(millisecond),tz=+00:00,alt=height_above_takeoff(feet)*0.3048,"
    "speed=speed(mph)*0.44704,heading=compass_heading(degrees),battery=battery_percent",
}

_KEYS = {
    "lat": "lat",
    "lon": "lon",
    "alt": "alt_m",
    "speed": "speed_mps",
    "heading": "heading_deg",
    "flow": "flow_lpm",
    "flow_kg": "flow_kgpm",
    "swath": "swath_m",
    "battery": "battery_pct",
}
_OTHER = {"time", "elapsed_ms", "tz", "spraying", "mission", "drone"}
_ON = {"1", "true", "yes", "on", "y", "t"}
_OFF = {"0", "false", "no", "off", "n", "f", ""}
DEFAULT_TZ = VN_TZ


@dataclass(frozen=True, slots=True)
class Column:
    """A mapped column and the factor its values are multiplied by."""

    name: str
    factor: float = 1.0


@dataclass(frozen=True, slots=True)
class Mapping:
    """Which column holds each contract key."""

    columns: dict[str, Column]
    tz: timezone

    @classmethod
    def parse(cls, spec: str) -> "Mapping":
        """``key=column[*factor],...``, or a saved mapping's name.

        >>> m = Mapping.parse("lat=Lat,lon=Lng,time=T,alt=Alt (ft)*0.3048")
        >>> m.columns["alt"], m.tz.utcoffset(datetime(2026, 1, 1))
        (Column(name='Alt (ft)', factor=0.3048), datetime.timedelta(seconds=25200))
        """
        spec = SAVED.get(spec.strip().lower(), spec)
        columns: dict[str, Column] = {}
        tz = DEFAULT_TZ
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, col = part.partition("=")
            key, col = key.strip().lower(), col.strip()
            if not sep or not col:
                raise InvalidInput(f"--columns: '{part}' is not key=column")
            if key not in _KEYS and key not in _OTHER:
                known = ", ".join(sorted({*_KEYS, *_OTHER}))
                raise InvalidInput(f"--columns: unknown key '{key}' (known: {known})")
            if key == "tz":
                tz = _offset(col)
                continue
            name, star, factor = col.rpartition("*")
            if star and _number(factor) is not None:
                columns[key] = Column(name.strip(), float(factor))
            else:
                columns[key] = Column(col)
        missing = [k for k in ("lat", "lon", "time") if k not in columns]
        if missing:
            names = ", ".join(SAVED)
            raise InvalidInput(
                f"--columns must map {', '.join(missing)} (or name a saved mapping: {names})"
            )
        return cls(columns, tz)


def _offset(text: str) -> timezone:
    try:
        parsed = datetime.fromisoformat(f"2000-01-01T00:00:00{text}")
    except ValueError as exc:
        raise InvalidInput(f"--columns: tz '{text}' is not an offset such as +07:00") from exc
    return timezone(parsed.utcoffset() or timedelta(0))


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_csv(data: bytes, *, name: str, columns: str, drone: str | None = None) -> Translation:
    """Translate a vendor's CSV with a column mapping (see the module's description)."""
    mapping = Mapping.parse(columns)
    text = unicodedata.normalize("NFC", data.decode("utf-8-sig", errors="replace"))
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or ()]
    absent = [c.name for c in mapping.columns.values() if c.name not in header]
    if absent:
        raise InvalidInput(f"'{name}' has no column {', '.join(repr(a) for a in absent)}")
    reader.fieldnames = header
    out = Translation(origin=MissionSource.csv)
    rows = _Rows(mapping, out, name, drone)
    for row in reader:
        rows.add(reader.line_num, row)
    rows.finish()
    return out


@dataclass
class _Rows:
    """The rows of one file as missions: points in order, an end event for each."""

    mapping: Mapping
    out: Translation
    name: str
    drone: str | None = None  # the log's drone, where rows do not name theirs
    base: datetime | None = None
    keys: set | None = None
    missions: dict | None = None

    def __post_init__(self) -> None:
        self.keys = set()
        self.missions = {}  # mission id -> (drone, last point's time)

    def add(self, line: int, row: dict[str, str]) -> None:
        where = f"{self.name}:{line}"
        try:
            point = self._point(row)
        except ValueError as exc:
            self.out.unread(where, str(exc))
            return
        drone = point.pop("drone_id", None) or self.drone
        key = (drone, point["seq"])
        if key in self.keys:
            self.out.unread(where, f"a row at the same time as another ({point['ts']})")
            return
        self.keys.add(key)
        mission = point.get("mission_id") or self._file_mission(drone, point["ts"])
        point["mission_id"] = mission
        if drone:
            point["drone_id"] = drone
        ts = datetime.fromisoformat(point["ts"])
        last = self.missions.get(mission, (drone, ts))[1]
        self.missions[mission] = (drone, max(ts, last))
        self.out.records.append((where, point))

    def _file_mission(self, drone: str | None, ts: str) -> str:
        found = next((m for m, (d, _) in self.missions.items() if d == drone), None)
        return found or mission_code(drone or "LOG", datetime.fromisoformat(ts))

    def finish(self) -> None:
        for mission, (drone, last) in self.missions.items():
            end = {"event": "end", "mission_id": mission, "ts": iso(last)}
            if drone:
                end["drone_id"] = drone
            self.out.records.append((f"{self.name} end of {mission}", end))

    def _point(self, row: dict[str, str]) -> dict[str, Any]:
        cols = self.mapping.columns
        point: dict[str, Any] = {}
        for key, field in _KEYS.items():
            if key in cols:
                value = self._value(row, cols[key])
                if value is not None:
                    point[field] = value
        if "lat" not in point or "lon" not in point:
            raise ValueError("row has no position (lat, lon)")
        ts = self._time(row)
        point["ts"] = iso(ts)
        point["seq"] = fix_seq(ts)
        point["spraying"] = self._spraying(row, point)
        for key, field in (("mission", "mission_id"), ("drone", "drone_id")):
            if key in cols and (row.get(cols[key].name) or "").strip():
                point[field] = row[cols[key].name].strip()
        return point

    def _value(self, row: dict[str, str], col: Column) -> float | None:
        text = (row.get(col.name) or "").strip()
        if not text:
            return None
        value = _number(text)
        if value is None:
            raise ValueError(f"column '{col.name}': '{text[:40]}' is not a number")
        return value * col.factor

    def _time(self, row: dict[str, str]) -> datetime:
        col = self.mapping.columns["time"]
        text = (row.get(col.name) or "").strip()
        number = _number(text)
        if number is not None:
            # UNIX time: seconds, or milliseconds when too large to be seconds.
            ts = datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
        else:
            try:
                ts = datetime.fromisoformat(text)
            except ValueError as exc:
                raise ValueError(f"column '{col.name}': '{text[:40]}' is not a time") from exc
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=self.mapping.tz)
        elapsed = self.mapping.columns.get("elapsed_ms")
        if elapsed is None:
            return ts
        ms = self._value(row, elapsed)
        if ms is None:
            return ts
        if self.base is None:
            self.base = ts - timedelta(milliseconds=ms)
        return self.base + timedelta(milliseconds=ms)

    def _spraying(self, row: dict[str, str], point: dict[str, Any]) -> bool:
        col = self.mapping.columns.get("spraying")
        if col is None:
            return bool(point.get("flow_lpm") or point.get("flow_kgpm"))
        text = (row.get(col.name) or "").strip().lower()
        if text in _ON:
            return True
        if text in _OFF:
            return False
        value = _number(text)
        if value is None:
            raise ValueError(f"column '{col.name}': '{text[:40]}' is not a spraying state")
        return value > 0
