"""The buyer's trace of a lot: where it grew, what was done there, and whether the PHI was kept.

A trace is built in two parts. The *structure* of a lot — the lot itself, the
lots it was milled or mixed from, its fields with their polygons, the farmer's
name and village, the seasons — is written once, when the lot is recorded, and
never changes through the API, so it is cached per process. The *activity* —
diary entries, drone missions, the verification of each diary's hash chain and
the PHI verdict — is read and recomputed on every request, because diaries grow,
late drone data arrives, and a chain check that trusted a cache would not be a
check.

Only public facts leave this module: a farmer's name and village, never a
phone, national ID, user, author or operator id, and no free-text notes (a note
is whatever a farmer typed, phone numbers included).
"""

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import shapely
from shapely.geometry import shape
from sqlalchemy import bindparam, exists, select, text
from sqlmodel import Session

from traceability.errors import NotFound
from traceability.models import (
    Farmer,
    FarmField,
    InputKind,
    Lot,
    LotField,
    LotParent,
    Season,
)
from traceability.services import applications
from traceability.services.applications import Application
from traceability.services.common import LOCAL_TZ, local_day
from traceability.services.diary import GENESIS, entry_hash, head_mismatch, verify_chain
from traceability.services.lots import ancestors

# Farmers count days in local time (services.common.local_day): a spray at 06:30 on
# the 3rd in Bạc Liêu is 23:30 on the 2nd in UTC, and the PHI is counted from the 3rd.
LOCAL_TZ_NAME = "Asia/Ho_Chi_Minh"
# A field recorded in a lot without a season still needs a window to look at.
DEFAULT_WINDOW_DAYS = 180
STRUCTURE_TTL_S = 300.0
STRUCTURE_CACHE_SIZE = 4096
# Rendered bodies are 5-20 kB: 10,000 of them stay well under 200 MB per worker.
RESPONSE_CACHE_SIZE = 10_000


def combine(verdicts: list[bool | None]) -> bool | None:
    """False if any is false, else None if any is unknown, else True (empty: True).

    >>> combine([True, None]), combine([None, False]), combine([])
    (None, False, True)
    """
    if any(v is False for v in verdicts):
        return False
    if any(v is None for v in verdicts):
        return None
    return True


# ---------------------------------------------------------------- structure (cached)


@dataclass(frozen=True)
class FieldLink:
    """One field of one lot, with the window in which its work counts for that lot."""

    lot_id: int
    lot_code: str
    field_id: int
    field_code: str
    season: dict[str, Any] | None
    start: date
    end: date
    default_window: bool


@dataclass(frozen=True)
class LotNode:
    """A lot in the lineage tree (the traced lot has depth 0)."""

    id: int
    code: str
    product_name: str
    harvested_on: date
    quantity_kg: float
    gtin: str | None
    depth: int
    parent_ids: tuple[int, ...]
    used_in: tuple[str, ...]


@dataclass(frozen=True)
class Structure:
    """The parts of a trace that do not change once the lot is recorded."""

    lot: LotNode
    lots: dict[int, LotNode]
    links: tuple[FieldLink, ...]
    fields: dict[int, dict[str, Any]]
    field_map: dict[str, Any] | None
    loaded_at: float = field(default=0.0, compare=False)
    created_at: datetime | None = None


class _StructureCache:
    """A small thread-safe LRU with a time-to-live (of lot structures, and of rendered traces).

    The key holds the lot's id and creation time, so a database that was
    emptied and refilled (ids restarting) can never hand back another lot's
    structure; the TTL bounds how long an edit made outside the API (a farmer's
    name fixed by hand in SQL) stays unseen.
    """

    def __init__(self, size: int, ttl_s: float):
        self.size, self.ttl_s = size, ttl_s
        self._items: OrderedDict[tuple, Structure] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            loaded_at = item[0] if isinstance(item, tuple) else item.loaded_at
            if time.monotonic() - loaded_at > self.ttl_s:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item

    def put(self, key: tuple, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _StructureCache(STRUCTURE_CACHE_SIZE, STRUCTURE_TTL_S)
# Rendered bodies, ``(built_at, fingerprint, body)``: see :func:`render_trace`.
_responses = _StructureCache(RESPONSE_CACHE_SIZE, STRUCTURE_TTL_S)


def clear_cache() -> None:
    """Forget every cached lot structure and rendered trace."""
    _cache.clear()
    _responses.clear()
    _by_code.clear()


def _label_angle(metres) -> float:
    """Degrees to turn a field's label so it runs along the field's long side.

    Mekong paddies are long and narrow, side by side: labels written across them
    run into their neighbours.

    >>> from shapely.geometry import box
    >>> _label_angle(box(0, 0, 40, 300)), _label_angle(box(0, 0, 300, 40))
    (-90.0, 0.0)
    """
    ring = list(metres.minimum_rotated_rectangle.exterior.coords)
    sides = [(ring[i + 1][0] - ring[i][0], ring[i + 1][1] - ring[i][1]) for i in range(2)]
    dx, dy = max(sides, key=lambda d: math.hypot(*d))
    # SVG's y axis points down, so a side rising to the north-east turns counter-clockwise.
    angle = -math.degrees(math.atan2(dy, dx))
    angle = (angle + 90.0) % 180.0 - 90.0  # keep the text upright
    return round(-90.0 if angle == 90.0 else angle, 1)


def _field_map(fields: list[dict], width: float = 320.0, height: float = 220.0) -> dict | None:
    """Field polygons in metres, scaled into an SVG viewBox (north up).

    This is a drawing, not a measurement (areas come from ``geo`` in UTM): a
    local equirectangular projection around the fields is within 0.1 % of UTM
    over the few kilometres a lot spans, and costs microseconds where a pyproj
    round trip per page costs a millisecond.
    """
    if not fields:
        return None
    geoms = [(f["code"], shape(f["geometry"])) for f in fields]
    lat0 = math.radians(sum(g.centroid.y for _, g in geoms) / len(geoms))
    kx, ky = 111_320.0 * math.cos(lat0), 110_574.0
    shapes = [(code, shapely.transform(g, lambda xy: xy * [kx, ky])) for code, g in geoms]
    minx = min(s.bounds[0] for _, s in shapes)
    miny = min(s.bounds[1] for _, s in shapes)
    maxx = max(s.bounds[2] for _, s in shapes)
    maxy = max(s.bounds[3] for _, s in shapes)
    pad = 12.0
    span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    off_x = (width - span_x * scale) / 2
    off_y = (height - span_y * scale) / 2

    def xy(x: float, y: float) -> str:
        return f"{off_x + (x - minx) * scale:.1f},{off_y + (maxy - y) * scale:.1f}"

    out = []
    for code, metres in shapes:
        polys = getattr(metres, "geoms", [metres])
        path = []
        for poly in polys:
            for ring in (poly.exterior, *poly.interiors):
                pts = list(ring.coords)
                path.append("M" + " L".join(xy(x, y) for x, y in pts) + " Z")
        c = metres.representative_point()
        label_x, label_y = xy(c.x, c.y).split(",")
        out.append(
            {
                "code": code,
                "path": " ".join(path),
                "label_x": label_x,
                "label_y": label_y,
                "label_angle": _label_angle(metres),
            }
        )
    # A 100 m scale bar (or 1 km for a spread-out lot) so the buyer sees the size.
    bar_m = 100.0 if span_x < 2000 else 1000.0
    return {
        "width": width,
        "height": height,
        "polygons": out,
        "scale_bar_px": round(bar_m * scale, 1),
        "scale_bar_label": "100 m" if bar_m == 100.0 else "1 km",
    }


def _load_structure(session: Session, lot, own_links: list) -> Structure:
    rows = {lot.id: (lot, 0)}
    edges = []
    link_rows = [r[len(_LOT_COLS) + 1 :] for r in own_links if r.field_id is not None]
    # A plain harvest lot (most of them) came with its fields in the lookup query.
    if lot.has_parents:
        found = ancestors(session, lot=session.get(Lot, lot.id))
        rows |= {p.id: (p, depth) for p, depth, _child in found}
        edges = session.execute(_EDGES, {"ids": list(rows)}).all()
        link_rows = session.execute(_LINKS, {"ids": list(rows)}).all()
    ids = list(rows)
    parents: dict[int, list[int]] = {i: [] for i in ids}
    children: dict[int, list[int]] = {i: [] for i in ids}
    for child_id, parent_id in edges:
        if parent_id in rows:
            parents[child_id].append(parent_id)
            children[parent_id].append(child_id)
    nodes = {
        i: LotNode(
            id=i,
            code=row.code,
            product_name=row.product_name,
            harvested_on=row.harvested_on,
            quantity_kg=row.quantity_kg,
            gtin=row.gtin,
            depth=depth,
            parent_ids=tuple(sorted(parents[i], key=lambda p: rows[p][0].code)),
            used_in=tuple(sorted(rows[c][0].code for c in children[i])),
        )
        for i, (row, depth) in rows.items()
    }

    fields: dict[int, dict[str, Any]] = {}
    links = []
    for (lot_id, fid, fcode, fname, area, geom, epsg, x0, y0, x1, y1, farmer_name, village,
         sid, crop, variety, sown_on) in link_rows:  # fmt: skip
        node = nodes[lot_id]
        if fid not in fields:
            fields[fid] = {
                "code": fcode,
                "name": fname,
                "area_ha": round(area, 4),
                "geometry": geom,
                "bbox": [x0, y0, x1, y1],
                "utm_epsg": epsg,
                # Name and village only: the rest of a farmer's record is not the buyer's business.
                "farmer": {"name": farmer_name, "village": village},
                "lots": [],
            }
        fields[fid]["lots"].append(node.code)
        season = None
        if sid is not None:
            season = {"id": sid, "crop": crop, "variety": variety, "sown_on": sown_on}
            start = sown_on
        else:
            start = node.harvested_on - timedelta(days=DEFAULT_WINDOW_DAYS)
        links.append(
            FieldLink(
                lot_id=lot_id,
                lot_code=node.code,
                field_id=fid,
                field_code=fcode,
                season=season,
                start=start,
                end=node.harvested_on,
                default_window=sid is None,
            )
        )
    for f in fields.values():
        f["lots"] = sorted(set(f["lots"]))
    return Structure(
        lot=nodes[lot.id],
        lots=nodes,
        links=tuple(links),
        fields=fields,
        field_map=_field_map(list(fields.values())),
        loaded_at=time.monotonic(),
        created_at=lot.created_at,
    )


def structure(session: Session, *, code: str) -> Structure:
    """The cached structure of the lot ``code``; ``NotFound`` if there is no such lot."""
    # Core execution on the session's connection: these plain column SELECTs need none of
    # the ORM's result machinery, which cost more than PostgreSQL took to answer them.
    found_rows = session.connection().execute(_LOT, {"code": code}).all()
    if not found_rows:
        # Never cached: the lot may be recorded a moment later.
        raise NotFound(f"lot '{code}' does not exist")
    lot = found_rows[0]
    key = (str(session.get_bind().url), lot.id, lot.created_at)
    found = _cache.get(key)
    if found is None:
        found = _load_structure(session, lot, found_rows)
        _cache.put(key, found)
    return found


# ---------------------------------------------------------------- rendered traces (per request)

# What the rendered trace of a lot depends on beyond its cached structure. PostgreSQL
# gives every row version its own ``xmin``: any INSERT, UPDATE or DELETE — through the API
# or behind its back — changes these sums or counts, so a tampered diary is never
# answered from the cache. SQLite has no such column: there, every request is rebuilt.
_FINGERPRINT_COLS = """
      (SELECT count(*) || ':' || coalesce(max(id), 0) || ':'
              || coalesce(sum(xmin::text::bigint), 0)
         FROM diary_entries WHERE field_id = ANY(:ids)) AS diary,
      (SELECT count(*) || ':' || coalesce(sum(mf.xmin::text::bigint + m.xmin::text::bigint), 0)
         FROM mission_fields mf JOIN missions m ON m.id = mf.mission_pk
        WHERE mf.field_id = ANY(:ids)) AS missions,
      (SELECT coalesce(sum(xmin::text::bigint), 0) FROM fields WHERE id = ANY(:ids)) AS heads,
      (SELECT coalesce(sum(xmin::text::bigint), 0) || ':' || count(*) FROM inputs) AS products
"""
_FINGERPRINT = text(f"SELECT {_FINGERPRINT_COLS}")
# A repeat scan in one round trip: the lot (is it still the one we cached?) and its fingerprint.
_LOOKUP_FINGERPRINT = text(
    f"SELECT l.id, l.created_at, {_FINGERPRINT_COLS} FROM lots l WHERE l.code = :code"
)
# code -> (loaded_at, lot id, created_at, Structure), for that one-round-trip path.
_by_code = _StructureCache(RESPONSE_CACHE_SIZE, STRUCTURE_TTL_S)


def _fingerprint(session: Session, st: Structure) -> tuple | None:
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return None
    return tuple(conn.execute(_FINGERPRINT, {"ids": list(st.fields)}).one())


def render_trace(
    session: Session,
    *,
    code: str,
    base_url: str | None,
    variant: tuple,
    render: Callable[[dict[str, Any]], bytes],
    with_map: bool = False,
) -> bytes:
    """``render(build_trace(...))``, answered from a cache while nothing it rests on changed.

    A buyer's scan is read far more often than a diary is written: the rendered body
    is kept per lot and ``variant`` (e.g. JSON, or the page in one language) and
    served again only while the lot's fingerprint (diary, missions, diary heads,
    products) is the one it was built from; the structure's own TTL bounds the rest.
    On PostgreSQL a repeat scan costs one query; SQLite rebuilds every time.
    """
    conn = session.connection()
    url = str(session.get_bind().url)
    fp = None
    st = None
    known = _by_code.get((url, code)) if conn.dialect.name == "postgresql" else None
    if known is not None:
        _, lot_id, created_at, cached = known
        row = conn.execute(_LOOKUP_FINGERPRINT, {"code": code, "ids": list(cached.fields)}).first()
        if row is not None and (row.id, row.created_at) == (lot_id, created_at):
            st, fp = cached, tuple(row[2:])
    if st is None:
        st = structure(session, code=code)
        fp = _fingerprint(session, st)
    key = (url, st.lot.id, st.loaded_at, base_url, variant)
    if fp is not None:
        hit = _responses.get(key)
        if hit is not None and hit[1] == fp:
            return hit[2]
    body = render(build_trace(session, code=code, base_url=base_url, with_map=with_map, st=st))
    if fp is not None:
        # Taken before the rows were read: a write in between only makes the next request
        # rebuild, never serve something older than its fingerprint.
        _responses.put(key, (time.monotonic(), fp, body))
        _by_code.put((url, code), (st.loaded_at, st.lot.id, st.created_at, st))
    return body


# ---------------------------------------------------------------- activity (per request)

# Statements are built once: composing a SELECT of twenty columns costs more
# Python time per request than PostgreSQL takes to answer it.
_IDS = bindparam("ids", expanding=True)
_LOT_COLS = (
    Lot.id, Lot.code, Lot.product_name, Lot.harvested_on, Lot.quantity_kg, Lot.gtin, Lot.created_at
)  # fmt: skip
_LINK_COLS = (
    LotField.lot_id,
    FarmField.id.label("field_id"),
    FarmField.code,
    FarmField.name,
    FarmField.area_ha,
    FarmField.geometry,
    FarmField.utm_epsg,
    FarmField.min_lon,
    FarmField.min_lat,
    FarmField.max_lon,
    FarmField.max_lat,
    Farmer.name,
    Farmer.village,
    Season.id,
    Season.crop,
    Season.variety,
    Season.sown_on,
)
# The lot, whether it has parents, and its own fields, in one round trip.
_LOT = (
    select(
        *_LOT_COLS,
        exists().where(LotParent.lot_id == Lot.id).label("has_parents"),
        *_LINK_COLS,
    )
    .outerjoin(LotField, LotField.lot_id == Lot.id)
    .outerjoin(FarmField, FarmField.id == LotField.field_id)
    .outerjoin(Farmer, Farmer.id == FarmField.farmer_id)
    .outerjoin(Season, Season.id == LotField.season_id)
    .where(Lot.code == bindparam("code"))
    .order_by(FarmField.code)
)
_EDGES = select(LotParent.lot_id, LotParent.parent_id).where(LotParent.lot_id.in_(_IDS))
_LINKS = (
    select(*_LINK_COLS)
    .join(FarmField, FarmField.id == LotField.field_id)
    .join(Farmer, Farmer.id == FarmField.farmer_id)
    .outerjoin(Season, Season.id == LotField.season_id)
    .where(LotField.lot_id.in_(_IDS))
    .order_by(FarmField.code)
)


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, dtime(23, 59, 59), LOCAL_TZ).astimezone(UTC)


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if ts else None


_HEADS = select(FarmField.id, FarmField.diary_length, FarmField.diary_head).where(
    FarmField.id.in_(_IDS)
)


def _load_activity(session: Session, field_ids: list[int]):
    conn = session.connection()
    diary, missions = applications.load(conn, field_ids=field_ids)
    # Read live, never from the structure cache: the head moves with every append.
    heads = {fid: (n, head) for fid, n, head in conn.execute(_HEADS, {"ids": field_ids}).all()}
    return diary, missions, heads


def _chain_holds(rows: list, head: tuple[int, str | None]) -> bool:
    """Whether a field's diary rows (ordered by ``chain_seq``) form an unbroken hash chain
    that ends where the field's recorded head says it does."""
    prev, prev_seq = GENESIS, 0
    for row in rows:
        if row.chain_seq != prev_seq + 1 or row.prev_hash != prev or entry_hash(row) != row.hash:
            return False
        prev, prev_seq = row.hash, row.chain_seq
    return head_mismatch(head, prev_seq, prev) is None


def _chains(
    session: Session, st: Structure, diary_rows: list, heads: dict[int, tuple[int, str | None]]
) -> dict[int, dict[str, Any]]:
    """Each field's hash-chain check.

    The rows the trace already loaded are checked here (every hash recomputed on
    every request); only a chain that does not hold is handed to
    ``diary.verify_chain`` for the report of its breaks, so the wording and the
    rules of a break stay the diary service's own.
    """
    by_field: dict[int, list] = {fid: [] for fid in st.fields}
    for row in diary_rows:
        by_field[row.field_id].append(row)
    out = {}
    for fid, rows in by_field.items():
        code = st.fields[fid]["code"]
        if _chain_holds(rows, heads.get(fid, (0, None))):
            out[fid] = {
                "field_code": code,
                "entries": len(rows),
                "valid": True,
                "head_hash": rows[-1].hash if rows else None,
                "breaks": [],
            }
        else:
            out[fid] = verify_chain(session, field_code=code).model_dump()
    return out


def _events(st: Structure, diary: list, missions: list) -> list[dict]:
    """One event per application (the diary's corrected view and drone missions) and
    per lot, oldest first."""
    links_of: dict[int, list[FieldLink]] = {}
    for link in st.links:
        links_of.setdefault(link.field_id, []).append(link)

    events: list[dict] = []
    for a in applications.applications(diary, missions):
        day = local_day(a.at) if a.at else None
        lots = [
            lk.lot_code
            for lk in links_of.get(a.field_id, ())
            if (day is None and a.source == "drone") or (day and lk.start <= day <= lk.end)
        ]
        if lots:
            events.append(_application_event(st, a, day, sorted(set(lots))))
    for node in st.lots.values():
        events.append(
            {
                "kind": "lot",
                "at": _end_of_day(node.harvested_on),
                "date": node.harvested_on,
                "activity": "process" if node.parent_ids else "harvest",
                "method": None,
                "field_code": None,
                "lot_codes": [node.code],
                "quantity": node.quantity_kg,
                "unit": "kg",
                "from_lots": [st.lots[p].code for p in node.parent_ids],
            }
        )
    far_past = datetime.min.replace(tzinfo=UTC)
    return sorted(events, key=lambda e: (e["at"] or far_past, e["kind"] == "lot"))


def _application_event(st: Structure, a: Application, day: date | None, lots: list[str]) -> dict:
    """The public event of one application."""
    common = {
        "at": a.at,
        "date": day,
        "activity": a.activity,
        "method": a.method,
        "source": "drone" if a.method == "drone" else "manual",
        "field_code": st.fields[a.field_id]["code"],
        "lot_codes": lots,
        "product": a.product.public() if a.product else None,
        "quantity": a.quantity,
        "unit": a.unit,
        "area_ha": a.area_ha,
        "dose_per_ha": a.dose_per_ha,
        "mission_id": a.mission_id,
    }
    if a.source == "diary":
        return {"kind": "diary", **common, "entry_id": a.entry_id, "entry_hash": a.entry_hash}
    return {
        "kind": "drone_mission",
        **common,
        "started_at": a.started_at,
        "ended_at": a.ended_at,
        "status": a.status,
        "product_code": a.product_code,
        "applied_amount": a.applied_amount,
        "applied_unit": a.applied_unit,
        "coverage_pct": a.coverage_pct,
        "drone_code": a.drone_code,
        "evidence_entry_ids": list(a.evidence_entry_ids),
    }


def _is_pesticide_application(event: dict) -> bool | None:
    """True for a pesticide, None for a spray whose product is unknown, False otherwise."""
    product = event.get("product")
    if product is not None:
        return product["kind"] == InputKind.pesticide
    if event["kind"] == "lot":
        return False
    # A spray with no product named (or naming one we do not know) could have been anything.
    return None if event["activity"] == "spray" else False


def _phi(st: Structure, events: list[dict]) -> dict[str, Any]:
    """The PHI verdict of the traced lot and, recursively, of every lot it came from."""
    per_lot: dict[str, dict] = {}
    for node in sorted(st.lots.values(), key=lambda n: -n.depth):
        products: dict[str, dict] = {}
        unknown = []
        for e in events:
            if node.code not in e["lot_codes"] or e["kind"] == "lot":
                continue
            kind = _is_pesticide_application(e)
            if kind is False:
                continue
            application = {
                "date": e["date"],
                "at": e["at"],
                "source": "drone" if e["kind"] == "drone_mission" else "diary",
                "method": e["method"],
                "field_code": e["field_code"],
                "quantity": e["quantity"],
                "unit": e["unit"],
                "dose_per_ha": e["dose_per_ha"],
                "entry_id": e.get("entry_id"),
                "mission_id": e.get("mission_id"),
            }
            if kind is None or e["date"] is None:
                named = e.get("product_code") or (e["product"] or {}).get("code")
                application["product_code"] = named
                application["reason"] = (
                    "the application's date is unknown" if e["date"] is None
                    else "no registered product is named for this spray"
                )  # fmt: skip
                unknown.append(application)
                continue
            p = e["product"]
            item = products.setdefault(p["code"], {"product": p, "applications": []})
            item["applications"].append(application)
        verdicts = []
        out_products = []
        for code in sorted(products):
            item = products[code]
            p = item["product"]
            last = max(a["date"] for a in item["applications"])
            days = (node.harvested_on - last).days
            phi = p["phi_days"]
            ok = None if phi is None else days >= phi
            verdicts.append(ok)
            out_products.append(
                {
                    "product_code": code,
                    "product_name": p["name"],
                    "active_ingredient": p["active_ingredient"],
                    "phi_days": phi,
                    "applications": item["applications"],
                    "last_application_on": last,
                    "days_before_harvest": days,
                    "earliest_safe_harvest": None if phi is None else last + timedelta(days=phi),
                    "phi_compliant": ok,
                    "reason": (
                        "the product's PHI is not recorded"
                        if phi is None
                        else f"{days} days from the last application to harvest, PHI {phi}"
                    ),  # fmt: skip
                }
            )
        if unknown:
            verdicts.append(None)
        own = combine(verdicts)
        parent_codes = [st.lots[p].code for p in node.parent_ids]
        overall = combine([own, *[per_lot[c]["phi_compliant"] for c in parent_codes]])
        notes = []
        if not out_products and not unknown:
            notes.append("no pesticide applied on this lot's fields in its season")
        if parent_codes:
            notes.append("a lot made from other lots is compliant only if all of them are")
        per_lot[node.code] = {
            "lot_code": node.code,
            "harvested_on": node.harvested_on,
            "depth": node.depth,
            "phi_compliant": overall,
            "own_fields_compliant": own,
            "parent_lots": parent_codes,
            "products": out_products,
            "unknown_applications": unknown,
            "notes": notes,
        }
    lots = sorted(per_lot.values(), key=lambda x: (x["depth"], x["lot_code"]))
    return {
        "phi_compliant": per_lot[st.lot.code]["phi_compliant"],
        "rule": (
            "for each pesticide, harvest date minus the day of its last application "
            f"(local days, {LOCAL_TZ_NAME}) must be at least the product's PHI"
        ),
        "timezone": LOCAL_TZ_NAME,
        "lots": lots,
    }


def _lot_json(node: LotNode, base_url: str | None) -> dict[str, Any]:
    from traceability.qr import digital_link, trace_url

    out = {
        "code": node.code,
        "product_name": node.product_name,
        "harvested_on": node.harvested_on,
        "quantity_kg": node.quantity_kg,
        "gtin": node.gtin,
        "kind": "derived" if node.parent_ids else "harvest",
    }
    if base_url is not None:
        out["trace_url"] = trace_url(base_url, node.code)
        out["digital_link"] = digital_link(base_url, node.gtin, node.code) if node.gtin else None
    return out


def build_trace(
    session: Session,
    *,
    code: str,
    base_url: str | None = None,
    with_map: bool = False,
    st: Structure | None = None,
) -> dict[str, Any]:
    """The public trace of lot ``code`` as plain data (dates as ``date``/``datetime``).

    ``with_map`` adds ``field_map``: the fields as SVG-ready polygons, for the page.

    Raises
    ------
    NotFound
        If no lot has this code.
    """
    st = st or structure(session, code=code)
    diary, missions, heads = _load_activity(session, list(st.fields))
    events = _events(st, diary, missions)
    chains = _chains(session, st, diary, heads)
    phi = _phi(st, events)
    lot = _lot_json(st.lot, base_url)
    lot["parent_lots"] = [st.lots[p].code for p in st.lot.parent_ids]
    lot["field_codes"] = sorted(lk.field_code for lk in st.links if lk.lot_id == st.lot.id)
    fields = []
    for fid, f in st.fields.items():
        fields.append(
            {k: v for k, v in f.items() if k != "utm_epsg"} | {"diary_chain": chains[fid]}
        )
    seasons = [
        {
            "lot_code": lk.lot_code,
            "field_code": lk.field_code,
            "season_id": lk.season["id"] if lk.season else None,
            "crop": lk.season["crop"] if lk.season else None,
            "variety": lk.season["variety"] if lk.season else None,
            "sown_on": lk.season["sown_on"] if lk.season else None,
            "window": {
                "start": lk.start,
                "end": lk.end,
                "default": lk.default_window,
                "basis": (
                    f"no season recorded: the {DEFAULT_WINDOW_DAYS} days before harvest are used"
                    if lk.default_window
                    else "from sowing to harvest"
                ),
            },
        }
        for lk in st.links
    ]
    verdict_of = {x["lot_code"]: x["phi_compliant"] for x in phi["lots"]}
    lineage = [
        _lot_json(n, base_url)
        | {
            "depth": n.depth,
            "used_in": list(n.used_in),
            "parent_lots": [st.lots[p].code for p in n.parent_ids],
            "field_codes": sorted(lk.field_code for lk in st.links if lk.lot_id == n.id),
            "phi_compliant": verdict_of[n.code],
        }
        for n in sorted(st.lots.values(), key=lambda n: (n.depth, n.code))
        if n.depth > 0
    ]
    for e in events:
        e["at"] = _iso(e["at"])
        for k in ("started_at", "ended_at"):
            if k in e:
                e[k] = _iso(e[k])
    for item in phi["lots"]:
        for group in (*(p["applications"] for p in item["products"]), item["unknown_applications"]):
            for a in group:
                a["at"] = _iso(a["at"])
    return {
        "lot": lot,
        "phi_compliant": phi["phi_compliant"],
        "phi": phi,
        "fields": fields,
        "seasons": seasons,
        "events": events,
        "lineage": lineage,
        "diary_integrity": {
            "valid": all(c["valid"] for c in chains.values()),
            "fields": [chains[fid] for fid in st.fields],
        },
        "timezone": LOCAL_TZ_NAME,
    } | ({"field_map": st.field_map} if with_map else {})


def field_map(session: Session, *, code: str) -> dict[str, Any] | None:
    """The lot's fields as SVG-ready polygons (cached with the structure)."""
    return structure(session, code=code).field_map
