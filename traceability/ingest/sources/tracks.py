"""A vendor's exported flight track (KML, GeoJSON) as missions of the contract.

Operators can export a flight's track from the vendors' apps and web services where no
API gives the records. Those tracks carry positions and times, not the sprayer's state,
product or rate: the operator names them (``--drone``, ``--product``, ``--flow-lpm`` or
``--flow-kgpm``, ``--swath``), and every fix of the track is taken as working unless told
``--no-spraying``.

What is read, each track (a Placemark, a Feature) becoming one mission:

- KML 2.2 (OGC 07-147r2) with Google's extension (``gx:``), read by ``fastkml``: a
  ``gx:Track`` (or each track of a ``gx:MultiTrack``) with a ``when`` for each
  ``gx:coord``: each fix at its own time;
- a ``LineString`` in a Placemark with a ``TimeSpan``: the line's vertices carry no time,
  so times are **spread evenly along the line** from ``begin`` to ``end``, as if flown
  at one speed, and the line is cut into fixes at most :data:`MAX_STEP_S` apart (the
  pipeline takes a longer silence between fixes for a lost link and leaves it out);
- GeoJSON (RFC 7946): a ``LineString``/``MultiLineString`` Feature whose properties
  carry ``coordTimes`` (one time per position) or ``timespan`` (``begin``, ``end``),
  the names ``togeojson`` (tmcw/togeojson, the converter of KML and GPX most tools
  use) writes for a ``gx:Track`` and a ``TimeSpan``.

Times without an offset are Vietnam time. A fix's key is its time in milliseconds, its
mission the drone and its first fix's second, as for every adapter.
"""

import itertools
import math
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

import orjson

from traceability.errors import InvalidInput
from traceability.ingest.sources import Translation, fix_seq, iso, mission_code
from traceability.models import MissionSource, MissionType
from traceability.timezone import VN_TZ

#: A LineString spread over its TimeSpan is cut into fixes at most this far apart in time.
MAX_STEP_S = 1.0
#: A track that would be cut into more fixes than this is not one flight.
MAX_FIXES = 500_000


@dataclass(frozen=True, slots=True)
class TrackOptions:
    """What a track does not say, as the operator gives it."""

    product: str | None = None
    flow_lpm: float | None = None
    flow_kgpm: float | None = None
    swath_m: float | None = None
    type: MissionType = MissionType.spray
    spraying: bool = True


@dataclass(frozen=True, slots=True)
class _Track:
    """One track: where it was read, its positions ``(lon, lat, alt or None)`` and either
    a time per position or a span to spread over them."""

    where: str
    coords: list[tuple[float, float, float | None]]
    times: list[datetime] | None = None
    span: tuple[datetime, datetime] | None = None


def read_track(
    data: bytes, *, name: str, drone: str | None, options: TrackOptions | None = None
) -> Translation:
    """Translate a KML/KMZ or GeoJSON track (see the module's description)."""
    if not drone:
        raise InvalidInput(f"'{name}' is a track: name its drone (--drone CODE, or the upload's)")
    options = options or TrackOptions()
    lower = name.lower()
    out = Translation(origin=MissionSource.track)
    if lower.endswith(".geojson"):
        tracks = list(_geojson_tracks(data, name=name, out=out))
    else:
        if lower.endswith(".kmz") or data[:4] == b"PK\x03\x04":
            data = _kmz_document(data, name=name)
        tracks = list(_kml_tracks(data, name=name, out=out))
    if not tracks:
        out.unread(name, "no timed track: a gx:Track, or a LineString with a TimeSpan")
    fixes = []
    for t in tracks:
        if t.span is not None and t.span[1] < t.span[0]:
            out.unread(t.where, f"its TimeSpan ends ({iso(t.span[1])}) before it begins")
            continue
        fixes.append((t.where, _timed(t)))
    for where, timed in sorted((f for f in fixes if f[1]), key=lambda f: f[1][0][0]):
        _mission(out, where, timed, drone=drone, options=options)
    return out


# ---------------------------------------------------------------- KML


def _kmz_document(data: bytes, *, name: str) -> bytes:
    """A KMZ's KML document: ``doc.kml``, else its first ``.kml``."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"'{name}' is not a readable KMZ (zip): {exc}") from exc
    kmls = [i for i in archive.infolist() if i.filename.lower().endswith(".kml")]
    if not kmls:
        raise InvalidInput(f"KMZ '{name}' holds no .kml document")
    doc = next((i for i in kmls if i.filename.lower() == "doc.kml"), kmls[0])
    if doc.file_size > 200_000_000:
        raise InvalidInput(f"KMZ '{name}' unpacks to {doc.file_size:,} bytes: too large")
    return archive.read(doc)


def _kml_tracks(data: bytes, *, name: str, out: Translation) -> Iterator[_Track]:
    from fastkml import Placemark, gx, kml
    from fastkml.geometry import MultiGeometry
    from fastkml.utils import find_all

    try:
        doc = kml.KML.from_string(data.lstrip(b"\xef\xbb\xbf"), strict=False)
    except Exception as exc:  # lxml's and fastkml's errors have no common base
        raise InvalidInput(f"'{name}' is not a readable KML document: {exc}") from exc
    for n, pm in enumerate(find_all(doc, of_type=Placemark), start=1):
        where = f"{name} placemark {n}" + (f" ({pm.name})" if pm.name else "")
        geometry = pm.kml_geometry
        if isinstance(geometry, gx.MultiTrack):
            parts = list(geometry.tracks)
        elif isinstance(geometry, MultiGeometry):
            parts = list(geometry.kml_geometries)
        else:
            parts = [geometry]
        for k, part in enumerate(parts, start=1):
            here = where if len(parts) == 1 else f"{where} part {k}"
            try:
                track = _kml_part(pm, part, here, out)
            except (TypeError, ValueError, IndexError) as exc:
                out.unread(here, f"not a timed track: {exc}")
                continue
            if track is not None:
                yield track


def _kml_part(pm: Any, part: Any, where: str, out: Translation) -> "_Track | None":
    """One timed geometry of a Placemark as a track, or None (kept as a reject)."""
    from fastkml import gx
    from fastkml.geometry import LineString

    if isinstance(part, gx.Track):
        items = list(part.track_items or ())
        if not items:
            return None
        if any(i.when is None for i in items):
            out.unread(where, "a gx:Track position without its time (when)")
            return None
        coords = [_xyz(tuple(i.coord.coords[0])) for i in items]
        return _Track(where, coords, times=[_aware(i.when.dt) for i in items])
    if isinstance(part, LineString) and part.geometry is not None:
        span = _kml_span(pm)
        if span is None:
            out.unread(where, "a LineString without a TimeSpan (begin, end): no times")
            return None
        return _Track(where, [_xyz(c) for c in part.geometry.coords], span=span)
    return None


def _kml_span(pm: Any) -> tuple[datetime, datetime] | None:
    from fastkml.times import TimeSpan

    times = pm.times
    if not isinstance(times, TimeSpan) or times.begin is None or times.end is None:
        return None
    return _aware(times.begin.dt), _aware(times.end.dt)


# ---------------------------------------------------------------- GeoJSON


def _geojson_tracks(data: bytes, *, name: str, out: Translation) -> Iterator[_Track]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"'{name}' is not GeoJSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"'{name}' is not GeoJSON: not an object")
    features = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    if not isinstance(features, list):
        raise InvalidInput(f"'{name}': a FeatureCollection's features must be a list")
    for n, feature in enumerate(features, start=1):
        where = f"{name} feature {n}"
        try:
            yield from _geojson_feature(feature, where)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            out.unread(where, f"not a timed LineString Feature: {exc}")


def _geojson_feature(feature: Any, where: str) -> Iterator[_Track]:
    geometry = feature.get("geometry") or {}
    props = feature.get("properties") or {}
    kind = geometry.get("type")
    if kind == "LineString":
        lines = [geometry["coordinates"]]
    elif kind == "MultiLineString":
        lines = geometry["coordinates"]
    else:
        raise ValueError(f"geometry {kind!r} is not a LineString")
    coord_times = props.get("coordTimes")
    if coord_times is not None and kind == "LineString":
        coord_times = [coord_times]
    span = props.get("timespan")
    for k, line in enumerate(lines):
        here = where if len(lines) == 1 else f"{where} line {k + 1}"
        coords = [_xyz(tuple(float(v) for v in c)) for c in line]
        if coord_times is not None:
            times = [_parse_time(t) for t in coord_times[k]]
            if len(times) != len(coords):
                raise ValueError(f"{len(times)} coordTimes for {len(coords)} positions")
            yield _Track(here, coords, times=times)
        elif isinstance(span, dict) and span.get("begin") and span.get("end"):
            yield _Track(here, coords, span=(_parse_time(span["begin"]), _parse_time(span["end"])))
        else:
            raise ValueError("no coordTimes and no timespan (begin, end) among its properties")


# ---------------------------------------------------------------- times and fixes


def _xyz(c: Sequence[float]) -> tuple[float, float, float | None]:
    if len(c) < 2 or not all(math.isfinite(v) for v in c):
        raise ValueError(f"position {list(c)} is not lon, lat")
    return float(c[0]), float(c[1]), (float(c[2]) if len(c) > 2 else None)


def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"time {text!r} is not text")
    return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=VN_TZ)


def _timed(track: _Track) -> list[tuple[datetime, tuple[float, float, float | None]]]:
    """The track's fixes with their times (a span spread along the line, see above)."""
    if track.times is not None:
        return list(zip(track.times, track.coords, strict=True))
    begin, end = track.span  # type: ignore[misc]
    coords = track.coords
    if len(coords) < 2:
        return [(begin, coords[0])] if coords else []
    return _spread(coords, begin, end)


def _spread(
    coords: list[tuple[float, float, float | None]], begin: datetime, end: datetime
) -> list[tuple[datetime, tuple[float, float, float | None]]]:
    """Times from ``begin`` to ``end`` spread along the line by distance (one speed), with
    fixes added along each segment so that none is more than :data:`MAX_STEP_S` apart."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    lons = [c[0] for c in coords]
    lats = [c[1] for c in coords]
    _, _, seg = geod.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    total = float(sum(seg))
    seconds = (end - begin).total_seconds()
    if total <= 0:
        step = seconds / (len(coords) - 1)
        return [(begin + timedelta(seconds=i * step), c) for i, c in enumerate(coords)]
    speed = total / seconds if seconds > 0 else math.inf
    if seconds / MAX_STEP_S > MAX_FIXES:
        raise InvalidInput(f"a track of {seconds:,.0f} s is longer than one flight")
    out = []
    done = 0.0
    for (a, b), length in zip(itertools.pairwise(coords), seg, strict=True):
        pieces = max(1, math.ceil(length / speed / MAX_STEP_S)) if math.isfinite(speed) else 1
        npts = geod.npts(a[0], a[1], b[0], b[1], pieces - 1) if pieces > 1 else []
        for i, (lon, lat) in enumerate([(a[0], a[1]), *npts]):
            alt = _between(a[2], b[2], i / pieces)
            at = (done + length * i / pieces) / total
            out.append((begin + timedelta(seconds=seconds * at), (lon, lat, alt)))
        done += length
    out.append((end, coords[-1]))
    return out


def _between(a: float | None, b: float | None, share: float) -> float | None:
    return None if a is None or b is None else a + (b - a) * share


def _mission(
    out: Translation,
    where: str,
    timed: list[tuple[datetime, tuple[float, float, float | None]]],
    *,
    drone: str,
    options: TrackOptions,
) -> None:
    """One track's start event, fixes in time order (one per millisecond) and end."""
    timed.sort(key=lambda f: f[0])
    mission = mission_code(drone, timed[0][0])
    start: dict[str, Any] = {
        "event": "start",
        "drone_id": drone,
        "mission_id": mission,
        "ts": iso(timed[0][0]),
        "type": options.type.value,
        "source": MissionSource.track.value,
    }
    if options.product:
        start["product_code"] = options.product
    if options.swath_m:
        start["swath_m"] = options.swath_m
    out.records.append((f"{where} start", start))
    last_key = None
    for n, (ts, (lon, lat, alt)) in enumerate(timed, start=1):
        key = fix_seq(ts)
        if key == last_key:
            out.unread(f"{where} position {n}", f"a second position at the same time ({iso(ts)})")
            continue
        last_key = key
        point: dict[str, Any] = {
            "drone_id": drone,
            "mission_id": mission,
            "seq": key,
            "ts": iso(ts),
            "lat": lat,
            "lon": lon,
            "spraying": options.spraying,
        }
        if alt is not None:
            point["alt_m"] = alt
        if options.flow_lpm is not None:
            point["flow_lpm"] = options.flow_lpm if options.spraying else 0.0
        if options.flow_kgpm is not None:
            point["flow_kgpm"] = options.flow_kgpm if options.spraying else 0.0
        out.records.append((f"{where} position {n}", point))
    end = {"event": "end", "drone_id": drone, "mission_id": mission, "ts": iso(timed[-1][0])}
    out.records.append((f"{where} end", end))
