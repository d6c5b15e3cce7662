"""ISO 11783-10 TaskData: a task controller's time logs as missions, its partfields as fields.

A TaskData set is ``TASKDATA.XML`` and, for each time log ``TLGnnnnn`` a task names, a
header ``TLGnnnnn.xml`` (which position attributes and which process data each record
holds) and the binary records ``TLGnnnnn.bin`` (ISO 11783-10 annex D). The XML is read
by the ``isoxml`` package (its models of versions 3 and 4, its shapely conversion of
polygons and its table of data dictionary entities); ``isoxml`` 0.0.4 does not read the
binary time logs, so :func:`decode_time_log` does, after annex D.

Each time log becomes a mission of the task's device:

- a fix per record, at the record's time (the controller's clock: its offset from UTC is
  the one that lines the log up with the task's own UTC times, else Vietnam's);
- working from the actual work state (DDI 141), else from the condensed section states
  (DDI 161-176: any section on), its width the actual working width (DDI 67) times the
  share of it the sections on make (each section by the width the device describes);
- a rate from the actual volume or mass per time (DDI 37, 42), else per area (DDI 2, 7)
  times speed (DDI 397) and width; the product from the task's product allocation or
  treatment zone, and the mission type from what kind of rate the device logs.

A record without a position, or whose time goes back, is not read: it is kept as a
reject with its reason.
"""

import io
import struct
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from traceability.errors import InvalidInput
from traceability.ingest.sources import Device, Translation, as_code, fix_seq, iso, mission_code
from traceability.models import MissionSource, MissionType
from traceability.timezone import VN_TZ

# Data dictionary entities (ISO 11783-11) this adapter reads.
DDI_WIDTH = 0x0043  # actual working width, mm
DDI_WORK_STATE = 0x008D  # actual work state: 0 off, 1 on, 2 error, 3 not available
DDI_CONDENSED = range(0x00A1, 0x00B1)  # actual condensed work state, sections 1-16 ... 241-256
DDI_SPEED = 0x018D  # actual speed, mm/s
# Actual application rates, to L or kg per minute (raw value x resolution x factor).
_VOLUME_PER_TIME = 0x0025  # mm3/s
_MASS_PER_TIME = 0x002A  # mg/s
_VOLUME_PER_AREA = 0x0002  # 0.01 mm3/m2
_MASS_PER_AREA = 0x0007  # mg/m2
# What kind of rate a device logs tells what it applies.
_VOLUME_DDIS = frozenset((*range(0x01, 0x06), *range(0x24, 0x29)))
_MASS_DDIS = frozenset((*range(0x06, 0x0B), *range(0x29, 0x2E)))
_COUNT_DDIS = frozenset((*range(0x0B, 0x10), *range(0x2E, 0x33)))

EPOCH_1980 = datetime(1980, 1, 1)
#: The most a TaskData set may unpack to (a season's time logs of one machine are far less).
SET_MAX_BYTES = 500_000_000
#: Where no time of the task says how the controller's clock relates to UTC.
DEFAULT_OFFSET = VN_TZ.utcoffset(EPOCH_1980)  # UTC+7, no daylight saving since 1975
# Position attributes in annex D order, with their binary layout (little-endian).
_PTN_LAYOUT = (
    ("north", "i"),
    ("east", "i"),
    ("up", "i"),
    ("status", "B"),
    ("pdop", "H"),
    ("hdop", "H"),
    ("number_of_satellites", "B"),
    ("gps_utc_time", "I"),
    ("gps_utc_date", "H"),
)


@dataclass(frozen=True, slots=True)
class Record:
    """One binary record of a time log: its time on the controller's clock and values."""

    local: datetime  # naive: the controller's clock
    lat: float | None
    lon: float | None
    status: int | None
    values: dict[tuple[int, str], int]  # (DDI, device element) -> the raw value, if logged


@dataclass(frozen=True, slots=True)
class _Header:
    """What each binary record of a time log holds, from its XML header."""

    has_start: bool
    position: tuple[tuple[str, str], ...]  # the position attributes in the binary
    fixed: dict[str, Any]  # position attributes given once in the header
    dlvs: tuple[tuple[int, str], ...]  # (DDI, device element) by index


# ---------------------------------------------------------------- reading the set


def taskdata_files(path: str | Path | bytes) -> dict[str, bytes]:
    """The files of a TaskData set, by upper-case name: a folder, ``TASKDATA.XML`` in
    one, or a zip (file or bytes) holding them, at its top or in one folder."""
    if isinstance(path, bytes):
        return _zip_files(path, name="upload")
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return _zip_files(path.read_bytes(), name=path.name)
    folder = path.parent if path.is_file() else path
    files = {p.name.upper(): p.read_bytes() for p in folder.iterdir() if p.is_file()}
    if "TASKDATA.XML" not in files:
        raise InvalidInput(f"'{folder}' holds no TASKDATA.XML")
    return files


def _zip_files(data: bytes, *, name: str) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"'{name}' is not a readable zip: {exc}") from exc
    tops = [n for n in archive.namelist() if n.upper().rsplit("/", 1)[-1] == "TASKDATA.XML"]
    if not tops:
        raise InvalidInput(f"zip '{name}' holds no TASKDATA.XML")
    folder = tops[0][: -len("TASKDATA.XML")]
    members = [
        i
        for i in archive.infolist()
        if not i.is_dir() and i.filename.startswith(folder) and "/" not in i.filename[len(folder) :]
    ]
    # The sizes the archive declares, checked before anything is inflated (zip bombs).
    total = sum(i.file_size for i in members)
    if total > SET_MAX_BYTES:
        raise InvalidInput(
            f"zip '{name}' unpacks to {total:,} bytes, more than the {SET_MAX_BYTES:,} allowed"
        )
    return {i.filename[len(folder) :].upper(): archive.read(i) for i in members}


def _parse_taskdata(files: Mapping[str, bytes]) -> Any:
    from isoxml.util.isoxml_io import isoxml_from_text

    try:
        text = files["TASKDATA.XML"].decode("utf-8-sig")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return isoxml_from_text(text)
    except (UnicodeDecodeError, ValueError, SyntaxError) as exc:
        raise InvalidInput(f"TASKDATA.XML cannot be read: {exc}") from exc
    except Exception as exc:  # xsdata's parser errors have no common base
        raise InvalidInput(f"TASKDATA.XML cannot be read: {type(exc).__name__}: {exc}") from exc


def _models(task_data: Any) -> Any:
    import isoxml.models.base.v3 as iso3
    import isoxml.models.base.v4 as iso4

    return iso3 if type(task_data).__module__.startswith(iso3.__name__) else iso4


def _header(files: Mapping[str, bytes], name: str, models: Any) -> _Header:
    from xsdata.formats.dataclass.parsers import XmlParser
    from xsdata.formats.dataclass.parsers.config import ParserConfig

    raw = files.get(f"{name}.XML")
    if raw is None:
        raise InvalidInput(f"time log {name} has no header {name}.xml")
    parser = XmlParser(ParserConfig(fail_on_unknown_properties=False))
    with warnings.catch_warnings():
        # An empty attribute is annex D's "in the binary record": the models warn on it.
        warnings.simplefilter("ignore")
        try:
            tim = parser.from_bytes(raw, models.Time)
        except Exception as exc:  # xsdata's parser errors have no common base
            raise InvalidInput(f"{name}.xml cannot be read: {exc}") from exc
    position: list[tuple[str, str]] = []
    fixed: dict[str, Any] = {}
    if tim.positions:
        ptn = tim.positions[0]
        for attr, fmt in _PTN_LAYOUT:
            value = getattr(ptn, attr)
            if value == "":
                position.append((attr, fmt))
            elif value is not None:
                fixed[attr] = value
    dlvs = tuple(
        (int.from_bytes(bytes(d.process_data_ddi), "big"), d.device_element_id_ref)
        for d in tim.data_log_values
    )
    return _Header(tim.start == "", tuple(position), fixed, dlvs)


# ---------------------------------------------------------------- the binary records


def decode_time_log(header: _Header, data: bytes, *, name: str) -> Iterator[Record | str]:
    """The records of a binary time log (annex D), or the text of why one is unreadable.

    Values are logged only when they change: each record carries every value known so far.
    """
    pos_fmt = "<" + "".join(f for _, f in header.position)
    pos_size = struct.calcsize(pos_fmt)
    known: dict[tuple[int, str], int] = {}
    view = memoryview(data)
    at, n = 0, 0
    while at < len(data):
        n += 1
        start = at
        try:
            if header.has_start:
                ms, days = struct.unpack_from("<IH", view, at)
                at += 6
            else:
                ms, days = 0, 0
            pos = dict(
                zip(
                    (a for a, _ in header.position),
                    struct.unpack_from(pos_fmt, view, at),
                    strict=True,
                )
            )
            at += pos_size
            (count,) = struct.unpack_from("<B", view, at)
            at += 1
            for _ in range(count):
                index, value = struct.unpack_from("<Bi", view, at)
                at += 5
                if index >= len(header.dlvs):
                    yield f"{name} record {n}: value index {index} is not in the header"
                    continue
                known[header.dlvs[index]] = value
        except struct.error:
            yield f"{name} record {n}: cut short at byte {start} of {len(data)}"
            return
        pos = {**header.fixed, **pos}
        north, east = pos.get("north"), pos.get("east")
        yield Record(
            local=EPOCH_1980 + timedelta(days=days, milliseconds=ms),
            lat=None if north is None else _degrees(north, "north" in header.fixed),
            lon=None if east is None else _degrees(east, "east" in header.fixed),
            status=pos.get("status") if isinstance(pos.get("status"), int) else None,
            values=dict(known),
        )


def _degrees(value: Any, from_header: bool) -> float:
    # In the binary a coordinate is an integer of 1e-7 degrees; in the header, degrees.
    return float(value) if from_header else value * 1e-7


# ---------------------------------------------------------------- the task, as missions


def read_taskdata(
    files: Mapping[str, bytes],
    *,
    drone: str | None = None,
    default_offset: timedelta = DEFAULT_OFFSET,
) -> Translation:
    """Translate a TaskData set's time logs into missions of the contract."""
    task_data = _parse_taskdata(files)
    models = _models(task_data)
    out = Translation(origin=MissionSource.isoxml)
    devices = {d.id: d for d in task_data.devices}
    products = {p.id: p for p in task_data.products}
    for task in task_data.tasks:
        device = _task_device(task, devices)
        code = drone or (_device_code(device) if device is not None else None)
        if code is None:
            out.unread(f"TASKDATA.XML {task.id}", f"task {task.id} names no device: give --drone")
            continue
        if drone is None and device is not None:
            out.devices.append(Device(code=code, model=as_text(device.designator)))
        start_kind, product = _task_product(task, products)
        for tlg in task.time_logs:
            name = tlg.filename.upper()
            where = f"{name}.bin"
            if f"{name}.BIN" not in files:
                out.unread(where, f"time log {name} is named by task {task.id} but not in the set")
                continue
            try:
                header = _header(files, name, models)
            except InvalidInput as exc:
                out.unread(where, str(exc))
                continue
            kind = start_kind or _kind_of(header)
            _time_log_records(
                out,
                decode_time_log(header, files[f"{name}.BIN"], name=where),
                where=where,
                drone=code,
                offset=_clock_offset(task, files[f"{name}.BIN"], header, default_offset),
                kind=kind,
                product=product,
                widths=_section_widths(device),
            )
    return out


def as_text(value: Any) -> str | None:
    """A designator as text (None when empty)."""
    return str(value).strip() or None if value is not None else None


def _task_device(task: Any, devices: dict[str, Any]) -> Any:
    for dan in task.device_allocations:
        if dan.device_id_ref in devices:
            return devices[dan.device_id_ref]
    return next(iter(devices.values())) if len(devices) == 1 else None


def _device_code(device: Any) -> str | None:
    return as_code(as_text(device.designator)) or as_code(device.id)


def _task_product(task: Any, products: dict[str, Any]) -> tuple[MissionType | None, str | None]:
    """The mission type and product code the task plans, where it names them."""
    refs = [pan.product_id_ref for pan in task.product_allocations if pan.product_id_ref]
    ddis: set[int] = set()
    for tzn in task.treatment_zones:
        for pdv in tzn.process_data_variables:
            ddi = int.from_bytes(bytes(pdv.process_data_ddi), "big")
            ddis.add(ddi)
            if pdv.product_id_ref:
                refs.append(pdv.product_id_ref)
    product = next((products[r] for r in refs if r in products), None)
    code = as_code(as_text(product.designator)) if product is not None else None
    return _kind(ddis), code


def _kind(ddis: set[int]) -> MissionType | None:
    if ddis & _VOLUME_DDIS:
        return MissionType.spray
    if ddis & _MASS_DDIS:
        return MissionType.fertilize
    if ddis & _COUNT_DDIS:
        return MissionType.seed
    return None


def _kind_of(header: _Header) -> MissionType | None:
    return _kind({ddi for ddi, _ in header.dlvs})


def _clock_offset(task: Any, data: bytes, header: _Header, default: timedelta) -> timedelta:
    """The controller clock's offset from UTC: the quarter hour that lines the log's first
    record up with one of the task's times given in UTC, else ``default``."""
    if not header.has_start or len(data) < 6:
        return default
    ms, days = struct.unpack_from("<IH", data, 0)
    first = EPOCH_1980 + timedelta(days=days, milliseconds=ms)
    best: tuple[float, timedelta] | None = None
    for tim in task.times:
        start = _aware(tim.start)
        if start is None:
            continue
        diff = first - start.astimezone(UTC).replace(tzinfo=None)
        quarter = timedelta(minutes=15) * round(diff / timedelta(minutes=15))
        residual = abs((diff - quarter).total_seconds())
        if abs(quarter) <= timedelta(hours=14) and (best is None or residual < best[0]):
            best = (residual, quarter)
    # Beyond a few minutes the log is not the time the task records.
    return best[1] if best is not None and best[0] <= 600 else default


def _aware(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        ts = value.to_datetime() if hasattr(value, "to_datetime") else None
        ts = ts or datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else None


def _time_log_records(
    out: Translation,
    records: Iterator[Record | str],
    *,
    where: str,
    drone: str,
    offset: timedelta,
    kind: MissionType | None,
    product: str | None,
    widths: tuple[float, ...] | None,
) -> None:
    """Append one time log's mission: its start (when its type is known), fixes and end."""
    tz = timezone(offset)
    points: list[dict] = []
    last_ts: datetime | None = None
    for n, rec in enumerate(records, start=1):
        here = f"{where} record {n}"
        if isinstance(rec, str):
            out.unread(here, rec)
            continue
        if rec.lat is None or rec.lon is None or (rec.lat == 0 and rec.lon == 0):
            out.unread(here, "record has no position")
            continue
        ts = rec.local.replace(tzinfo=tz)
        if last_ts is not None and ts < last_ts:
            out.unread(here, f"record time {ts.isoformat()} is before the one before it")
            continue
        point = _point(rec, ts, widths)
        if last_ts is not None and fix_seq(ts) == points[-1]["seq"]:
            # Two records at one millisecond: one fix, in its latest state.
            points[-1] = point | {"mission_id": points[-1]["mission_id"], "drone_id": drone}
            continue
        point["mission_id"] = points[0]["mission_id"] if points else mission_code(drone, ts)
        point["drone_id"] = drone
        points.append(point)
        last_ts = ts
    if not points:
        return
    mission = points[0]["mission_id"]
    if kind is not None:
        start = {
            "event": "start",
            "drone_id": drone,
            "mission_id": mission,
            "ts": points[0]["ts"],
            "type": kind.value,
            "source": MissionSource.isoxml.value,
        }
        if product:
            start["product_code"] = product
        out.records.append((f"{where} start", start))
    out.records.extend((f"{where} record {i}", {**p}) for i, p in enumerate(points, start=1))
    out.records.append(
        (
            f"{where} end",
            {"event": "end", "drone_id": drone, "mission_id": mission, "ts": points[-1]["ts"]},
        )
    )


def _point(rec: Record, ts: datetime, widths: tuple[float, ...] | None) -> dict[str, Any]:
    values = {ddi: v for (ddi, _), v in rec.values.items()}
    working, share = _working(rec.values, widths)
    point: dict[str, Any] = {
        "seq": fix_seq(ts),
        "ts": iso(ts),
        "lat": rec.lat,
        "lon": rec.lon,
        "spraying": working,
    }
    width_mm = values.get(DDI_WIDTH)
    if width_mm and width_mm > 0:
        # With every section off nothing is worked: the width stays the implement's.
        point["swath_m"] = min(width_mm / 1000 * (share or 1.0), 100.0)
    speed = values.get(DDI_SPEED)
    if speed is not None and speed >= 0:
        point["speed_mps"] = min(speed / 1000, 200.0)
    point.update(_rates(values, speed, point.get("swath_m")))
    return point


def _working(
    values: dict[tuple[int, str], int], widths: tuple[float, ...] | None
) -> tuple[bool, float]:
    """Whether the machine works, and the share of its width that does: the actual work
    state (DDI 141) where it is logged, else the condensed section states, each section
    counted by its width where the device describes every one (else alike)."""
    states = [v for (ddi, _), v in values.items() if ddi == DDI_WORK_STATE]
    if states:
        return any(s == 1 for s in states), 1.0
    condensed = _condensed(values)
    if widths is None or any(i >= len(widths) for i, _ in condensed):
        widths = (1.0,) * (max((i for i, _ in condensed), default=-1) + 1)
    on = sum(widths[i] for i, s in condensed if s == 1)
    known = sum(widths[i] for i, s in condensed if s in (0, 1))
    return on > 0, (on / known if known else 1.0)


def _rates(values: dict[int, int], speed: int | None, width_m: float | None) -> dict[str, float]:
    """L and kg per minute from the actual rates per time, else per area times speed and
    width; a rate beyond the contract's bounds is not a rate this machine put out."""
    rates = {}
    area_s = speed / 1000 * width_m if speed and width_m else None  # m2 per second
    if _VOLUME_PER_TIME in values:
        rates["flow_lpm"] = max(values[_VOLUME_PER_TIME], 0) * 1e-6 * 60
    elif _VOLUME_PER_AREA in values and area_s:
        # Raw values are 0.01 mm3 per m2, that is 1e-8 L per m2.
        rates["flow_lpm"] = max(values[_VOLUME_PER_AREA], 0) * 1e-8 * area_s * 60
    if _MASS_PER_TIME in values:
        rates["flow_kgpm"] = max(values[_MASS_PER_TIME], 0) * 1e-6 * 60
    elif _MASS_PER_AREA in values and area_s:
        rates["flow_kgpm"] = max(values[_MASS_PER_AREA], 0) * 1e-6 * area_s * 60
    return {k: v for k, v in rates.items() if v <= 1000}


def _condensed(values: dict[tuple[int, str], int]) -> list[tuple[int, int]]:
    """``(section index, state)`` (0 off, 1 on, 2 error) from condensed work states."""
    states: list[tuple[int, int]] = []
    for ddi, v in values_of(values, DDI_CONDENSED):
        base = 16 * (ddi - DDI_CONDENSED.start)  # DDI 161: sections 1-16, 162: 17-32, ...
        # Section 1 in the lowest two bits; sections beyond the implement's answer 3.
        states.extend(
            (base + i, (v >> (2 * i)) & 0b11) for i in range(16) if (v >> (2 * i)) & 0b11 != 3
        )
    return states


def values_of(values: dict[tuple[int, str], int], ddis: range) -> list[tuple[int, int]]:
    """``(DDI, value)`` of the logged values whose DDI is in ``ddis``, in DDI order."""
    return sorted((d, v) for (d, _), v in values.items() if d in ddis)


def _section_widths(device: Any) -> tuple[float, ...] | None:
    """The widths (m) of the device's sections in section order, when it gives each one
    (a section element's actual or maximum working width property, DDI 67 or 70)."""
    if device is None:
        return None
    props = {p.object_id: p for p in device.properties}
    sections = sorted(
        (e for e in device.elements if getattr(e.type, "value", None) == "4"),
        key=lambda e: e.number or 0,
    )
    widths = []
    for element in sections:
        width = next(
            (
                props[r.device_object_id].value
                for r in element.device_object_references
                if r.device_object_id in props
                and int.from_bytes(bytes(props[r.device_object_id].ddi), "big") in (0x43, 0x46)
            ),
            None,
        )
        if not width or width <= 0:
            return None
        widths.append(width / 1000)
    return tuple(widths) or None


# ---------------------------------------------------------------- partfields, as fields


def partfield_features(files: Mapping[str, bytes], *, farmer_id: int | None = None) -> list[dict]:
    """The set's partfields (PFD) as GeoJSON field Features: each boundary polygon with its
    holes, the partfield's designator as the field's name and code."""
    from isoxml.converter.shapely_geom import ShapelyConverterV3, ShapelyConverterV4
    from shapely.geometry import MultiPolygon, mapping

    task_data = _parse_taskdata(files)
    models = _models(task_data)
    converter = ShapelyConverterV3() if models.__name__.endswith("v3") else ShapelyConverterV4()
    features = []
    for pfd in task_data.partfields:
        boundaries = [
            converter.to_shapely_polygon(p)
            for p in pfd.polygons
            if getattr(p.type, "value", None) == "1"  # PartfieldBoundary
        ]
        if not boundaries:
            continue
        geometry = boundaries[0] if len(boundaries) == 1 else MultiPolygon(boundaries)
        name = as_text(pfd.designator)
        props: dict[str, Any] = {"code": as_code(name) or as_code(pfd.id), "name": name}
        if farmer_id is not None:
            props["farmer_id"] = farmer_id
        features.append({"type": "Feature", "geometry": mapping(geometry), "properties": props})
    return features
