"""The part of a lot's trace that never changes once the lot is recorded, cached per process.

The lot itself, the lots it was milled or mixed from (its lineage), its fields with
their polygons, the farmer's name and village, and the seasons that set the window
in which a field's work counts for a lot. None of it changes through the API, so a
structure is loaded once and kept in a small LRU with a time-to-live
(:class:`TTLCache`), which also bounds how long an edit made outside the API (a
farmer's name fixed by hand in SQL) stays unseen.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlmodel import Session

from traceability.config import get_settings
from traceability.errors import NotFound
from traceability.geo import boundaries
from traceability.models import Farmer, FarmField, Lot, LotField, LotParent, Season
from traceability.services.lots import ancestors
from traceability.services.trace.field_map import FieldMap, field_map
from traceability.services.trace.locator import Locator, locator

# A field recorded in a lot without a season still needs a window to look at.
DEFAULT_WINDOW_DAYS = 180
STRUCTURE_TTL_S = 300.0
STRUCTURE_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class SeasonInfo:
    """The crop cycle a lot's field was recorded with."""

    id: int
    crop: str
    variety: str | None
    sown_on: date


@dataclass(frozen=True, slots=True)
class HarvestClosure:
    """An earlier lot's harvest on a field, as it closes the field's work for later lots.

    It closes only what it shows: work dated at or before its harvest (``day``, and
    ``at`` when both times are known) and already in the record when the lot was
    recorded (``recorded_at``). Work it does not show stays open for the next lot.

    A pesticide's spray it closes only when its pre-harvest interval had passed by this
    harvest, and a banned product's never: a lot "harvested" after a spray within its
    interval fails itself, and must not leave the next lot clean (the spray stays on that
    lot's trace, where the interval decides). For a lot harvested after the interval the
    spray would pass on the next lot anyway, so closing it only keeps that trace short.
    """

    day: date
    at: datetime | None
    recorded_at: datetime | None

    def closes(
        self,
        day: date,
        at: datetime | None,
        recorded_at: datetime | None,
        phi_days: int | None = None,
        banned: bool = False,
    ) -> bool:
        """Whether work done on ``day`` (at ``at``), recorded at ``recorded_at``, is closed;
        ``phi_days`` and ``banned`` describe its product when it is a pesticide.

        >>> t = datetime(2026, 11, 30, 8, 0)
        >>> c = HarvestClosure(date(2026, 11, 27), None, t)
        >>> c.closes(date(2026, 11, 20), None, t - timedelta(days=9))
        True
        >>> c.closes(date(2026, 11, 28), None, t - timedelta(days=2))  # after its harvest
        False
        >>> c.closes(date(2026, 11, 20), None, t + timedelta(days=1))  # recorded after it
        False
        >>> c.closes(date(2026, 11, 20), None, t - timedelta(days=9), phi_days=7)  # 7 days kept
        True
        >>> c.closes(date(2026, 11, 20), None, t - timedelta(days=9), phi_days=14)  # 7 of 14
        False
        >>> c.closes(date(2026, 11, 20), None, t - timedelta(days=9), banned=True)
        False
        """
        if recorded_at is None or self.recorded_at is None or recorded_at >= self.recorded_at:
            return False
        if banned or (phi_days is not None and (self.day - day).days < phi_days):
            return False
        if day != self.day:
            return day < self.day
        return self.at is None or at is None or at <= self.at


@dataclass(frozen=True, slots=True)
class SowingClosure:
    """A season's sowing that was already in the record when work dated before it was
    recorded: that work was recorded as done before the season, and stays out of it.
    A sowing recorded after the work never closes it.

    >>> t = datetime(2026, 1, 1, 8, 0)
    >>> s = SowingClosure(date(2026, 1, 5), t)
    >>> s.closes(date(2026, 1, 2), None, t + timedelta(days=1)), s.closes(date(2026, 1, 2), None, t)
    (True, False)
    """

    day: date
    recorded_at: datetime | None

    def closes(
        self,
        day: date,
        at: datetime | None,
        recorded_at: datetime | None,
        phi_days: int | None = None,
        banned: bool = False,
    ) -> bool:
        """Whether work done on ``day``, recorded at ``recorded_at``, is closed by this sowing
        (whatever its product: ``phi_days`` and ``banned`` are taken as a lot's closure takes
        them, and weigh nothing here)."""
        return (
            day < self.day and recorded_at is not None and self.recorded_at is not None
            and self.recorded_at < recorded_at
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class FieldLink:
    """One field of one lot, with the window in which its work counts for that lot.

    The window runs from ``start`` (a local day, see :func:`window_start`) to the harvest:
    ``until`` when the lot gives a harvest time, else the whole local day ``end``. Work
    dated after the harvest but recorded before the lot was (``recorded_at``) counts too:
    a harvest dated before sprays already in the record cannot drop them (they fail the PHI).

    Work dated from ``reach`` to ``start`` counts too unless one of ``closures`` closes it:
    an earlier lot on the field that shows it, or a sowing after its day already recorded
    when it was. No record made after the work — a season's sowing or end, a lot that
    does not carry it — can take it out of the lot's window (see :func:`reach_back`).
    """

    lot_id: int
    lot_code: str
    field_id: int
    field_code: str
    season: SeasonInfo | None
    start: date
    end: date
    default_window: bool
    until: datetime | None = None
    recorded_at: datetime | None = None
    reach: date | None = None
    closures: tuple[HarvestClosure | SowingClosure, ...] = ()

    def counts(
        self,
        day: date,
        at: datetime | None = None,
        recorded_at: datetime | None = None,
        phi_days: int | None = None,
        banned: bool = False,
    ) -> bool:
        """Whether work done on ``day`` (a local calendar day; at ``at``, recorded at
        ``recorded_at``, when known) counts for this lot; ``phi_days`` and ``banned``
        describe its product when it is a pesticide (see :class:`HarvestClosure`)."""
        if day < self.start and not self.open_before_start(day, at, recorded_at, phi_days, banned):
            return False
        if day <= self.end and (self.until is None or at is None or at <= self.until):
            return True
        return self.after_harvest(recorded_at)

    def open_before_start(
        self,
        day: date,
        at: datetime | None,
        recorded_at: datetime | None,
        phi_days: int | None = None,
        banned: bool = False,
    ) -> bool:
        """Whether work dated before ``start`` still counts: within ``reach``, closed by no
        earlier lot (see :class:`HarvestClosure`), and not recorded after a sowing it is
        dated before."""
        return (
            self.reach is not None and self.reach <= day
            and not any(c.closes(day, at, recorded_at, phi_days, banned) for c in self.closures)
        )  # fmt: skip

    def after_harvest(self, recorded_at: datetime | None) -> bool:
        """Whether work dated after the harvest was already recorded when the lot was."""
        return (
            recorded_at is not None and self.recorded_at is not None
            and recorded_at < self.recorded_at
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class TracedField:
    """A field of the lot or of a lot it came from, with only its public facts.

    Name and village only: the rest of a farmer's record is not the buyer's business.
    """

    id: int
    code: str
    name: str | None
    area_ha: float
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]
    utm_epsg: int | None
    farmer_name: str
    village: str | None
    lots: tuple[str, ...]
    commune_code: str | None = None


@dataclass(frozen=True, slots=True)
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
    # When the lot was recorded: amendments to the diary after it are shown, not trusted.
    recorded_at: datetime | None = None
    # When the harvest ended, if the farmer gave a time.
    harvested_at: datetime | None = None


@dataclass(frozen=True)
class Structure:
    """The parts of a trace that do not change once the lot is recorded."""

    lot: LotNode
    lots: dict[int, LotNode]
    links: tuple[FieldLink, ...]
    fields: dict[int, TracedField]
    field_map: FieldMap | None
    locator: Locator | None = None
    loaded_at: float = field(default=0.0, compare=False)
    created_at: datetime | None = None

    def parent_codes(self, node: LotNode) -> list[str]:
        """The codes of the lots ``node`` was milled or mixed from."""
        return [self.lots[p].code for p in node.parent_ids]

    def field_codes(self, node: LotNode) -> list[str]:
        """The codes of ``node``'s own fields, sorted."""
        return sorted(lk.field_code for lk in self.links if lk.lot_id == node.id)


class TTLCache:
    """A small thread-safe LRU whose entries expire ``ttl_s`` seconds after they were made.

    >>> c = TTLCache(size=2, ttl_s=60.0)
    >>> c.put("a", 1); c.put("b", 2); c.put("c", 3)
    >>> c.get("a"), c.get("c")
    (None, 3)
    >>> c.put("old", 4, since=time.monotonic() - 61.0)
    >>> c.get("old") is None
    True
    """

    def __init__(self, size: int, ttl_s: float):
        self.size, self.ttl_s = size, ttl_s
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """The value under ``key``, or None if there is none or it has expired."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if time.monotonic() - item[0] > self.ttl_s:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: Hashable, value: Any, *, since: float | None = None) -> None:
        """Keep ``value``; its time-to-live counts from ``since`` (a monotonic time) or now."""
        with self._lock:
            self._items[key] = (time.monotonic() if since is None else since, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()


_cache = TTLCache(STRUCTURE_CACHE_SIZE, STRUCTURE_TTL_S)
# Caches built on structures (the API's rendered bodies) register here to be cleared with them.
_dependants: list[Callable[[], None]] = []


def on_clear(clear: Callable[[], None]) -> None:
    """Run ``clear`` too whenever :func:`clear_cache` runs (for caches built on structures)."""
    if clear not in _dependants:
        _dependants.append(clear)


def clear_cache() -> None:
    """Forget every cached lot structure, and everything cached from them."""
    _cache.clear()
    for clear in _dependants:
        clear()


# Statements are built once: composing a SELECT of twenty columns costs more
# Python time per request than PostgreSQL takes to answer it.
IDS = bindparam("ids", expanding=True)
_LOT_COLS = (
    Lot.id, Lot.code, Lot.product_name, Lot.harvested_on, Lot.quantity_kg, Lot.gtin, Lot.created_at,
    Lot.harvested_at,
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
    FarmField.commune_code,
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
_EDGES = select(LotParent.lot_id, LotParent.parent_id).where(LotParent.lot_id.in_(IDS))
_LINKS = (
    select(*_LINK_COLS)
    .join(FarmField, FarmField.id == LotField.field_id)
    .join(Farmer, Farmer.id == FarmField.farmer_id)
    .outerjoin(Season, Season.id == LotField.season_id)
    .where(LotField.lot_id.in_(IDS))
    .order_by(FarmField.code)
)


def _lineage(session: Session, lot: Any, own_rows: list) -> tuple[dict[int, LotNode], list]:
    """The lot and every lot it came from, as nodes; and the rows of all their fields."""
    rows = {lot.id: (lot, 0)}
    edges = []
    link_rows = [r[len(_LOT_COLS) + 1 :] for r in own_rows if r.field_id is not None]
    # A plain harvest lot (most of them) came with its fields in the lookup query.
    if lot.has_parents:
        found = ancestors(session, lot=session.get(Lot, lot.id))
        rows |= {p.id: (p, depth) for p, depth, _child in found}
        edges = session.execute(_EDGES, {"ids": list(rows)}).all()
        link_rows = session.execute(_LINKS, {"ids": list(rows)}).all()
    parents: dict[int, list[int]] = {i: [] for i in rows}
    children: dict[int, list[int]] = {i: [] for i in rows}
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
            recorded_at=row.created_at,
            harvested_at=row.harvested_at,
        )
        for i, (row, depth) in rows.items()
    }
    return nodes, link_rows


# Every season and every harvest of the fields, for the windows (see window_start).
_SEASONS = select(
    Season.id, Season.field_id, Season.sown_on, Season.ended_on, Season.created_at
).where(Season.field_id.in_(IDS))
_HARVESTS = (
    select(
        LotField.field_id,
        LotField.season_id,
        Lot.id,
        Lot.harvested_on,
        Lot.created_at,
        Lot.harvested_at,
    )
    .join(Lot, Lot.id == LotField.lot_id)
    .where(LotField.field_id.in_(IDS))
)


@dataclass(frozen=True, slots=True)
class FieldHistory:
    """A field's seasons ``(id, sown_on, ended_on, created_at)`` and harvests
    ``(lot_id, season_id, harvested_on, created_at, harvested_at)``, as the windows read
    them."""

    seasons: tuple[tuple[int, date, date | None, datetime], ...] = ()
    harvests: tuple[tuple[int, int | None, date, datetime, datetime | None], ...] = ()


WINDOW_RULE = (
    "from the sowing of the field's earliest season not yet over when the lot was recorded "
    "(ended, or harvested in an earlier lot) to harvest; a season recorded after the lot "
    "does not count. Work on the field from 'reach' to that sowing counts too unless an "
    "earlier lot shows it (dated by its harvest and recorded before it; for a pesticide, "
    "harvested once its PHI had passed; never a banned product) or a season's sowing "
    "already recorded when the work was comes after it; a season's end leaves no work out"
)


def window_start(node: LotNode, own: SeasonInfo | None, history: FieldHistory) -> tuple[date, bool]:
    """The first day of ``node``'s window on a field, and whether it is the default one.

    A season recorded later, or backdated, must not shorten the window: a second season
    "sown" the day after a spray would otherwise leave the spray out. So the window does
    not start at the lot's own season's sowing but at the earliest sowing among the
    field's seasons still under way at harvest — sown by then, not ended before, and not
    harvested in an earlier lot (another crop's harvest closes its season; the lot's own
    season is never closed by a lot of its own). Only records made before the lot was
    are read, so a lot's window never changes once it is recorded. With no such season,
    the ``DEFAULT_WINDOW_DAYS`` before harvest.
    """
    day, recorded = node.harvested_on, node.recorded_at

    def known(created: datetime) -> bool:
        return recorded is None or created is None or created <= recorded

    closed = {
        sid
        for lot_id, sid, harvested, created, _at in history.harvests
        if sid is not None and lot_id != node.id and harvested < day and known(created)
    }
    if own is not None:
        closed.discard(own.id)
    under_way = [
        sown
        for sid, sown, ended, created in history.seasons
        if sown <= day and (ended is None or ended >= day) and sid not in closed and known(created)
    ]
    if own is not None:
        under_way.append(own.sown_on)
    if under_way:
        return min(under_way), False
    return day - timedelta(days=DEFAULT_WINDOW_DAYS), True


def reach_back(
    node: LotNode, start: date, history: FieldHistory
) -> tuple[date, tuple[HarvestClosure | SowingClosure, ...]]:
    """How far back before ``start`` work on the field may still count for ``node``, and the
    records that close it.

    A season's sowing, its end and a lot are all records a farmer makes, and may make
    after a spray to leave it out: a season "sown" the day after, a season "ended" the
    day before, a lot "harvested" the day before (which itself fails). So only records
    already made when the work was recorded, or that carry the work themselves, take it
    out of a later lot's window: an earlier lot that shows it — dated by that lot's
    harvest and recorded before that lot (:class:`HarvestClosure`) — and a sowing after
    its day recorded before it (:class:`SowingClosure`). A season's end closes nothing.
    Work reaches back to the earliest sowing of a season recorded before the lot, and at
    least the ``DEFAULT_WINDOW_DAYS`` before harvest (the window of a field with no season).
    """
    day, recorded = node.harvested_on, node.recorded_at

    def known(created: datetime) -> bool:
        return recorded is None or created is None or created <= recorded

    seasons = [(sown, created) for _sid, sown, _end, created in history.seasons
               if sown <= day and known(created)]  # fmt: skip
    earliest = min([start, day - timedelta(days=DEFAULT_WINDOW_DAYS), *(s for s, _ in seasons)])
    harvests = tuple(
        HarvestClosure(harvested, at, created)
        for lot_id, _sid, harvested, created, at in history.harvests
        if lot_id != node.id and harvested < day and known(created)
    )
    sowings = tuple(SowingClosure(sown, created) for sown, created in seasons if sown > earliest)
    return earliest, harvests + sowings


def _link(
    node: LotNode, field_id: int, field_code: str, season: SeasonInfo | None, history: FieldHistory
) -> FieldLink:
    start, default = window_start(node, season, history)
    earliest, closures = reach_back(node, start, history)
    return FieldLink(
        lot_id=node.id,
        lot_code=node.code,
        field_id=field_id,
        field_code=field_code,
        season=season,
        start=start,
        end=node.harvested_on,
        default_window=default,
        until=node.harvested_at,
        recorded_at=node.recorded_at,
        reach=earliest,
        closures=closures,
    )


def _histories(session: Session, field_ids: list[int]) -> dict[int, FieldHistory]:
    seasons: dict[int, list] = {}
    harvests: dict[int, list] = {}
    if field_ids:
        params = {"ids": field_ids}
        for sid, fid, sown, ended, created in session.execute(_SEASONS, params).all():
            seasons.setdefault(fid, []).append((sid, sown, ended, created))
        for fid, sid, lot_id, harvested, created, at in session.execute(_HARVESTS, params).all():
            harvests.setdefault(fid, []).append((lot_id, sid, harvested, created, at))
    return {
        fid: FieldHistory(tuple(seasons.get(fid, ())), tuple(harvests.get(fid, ())))
        for fid in field_ids
    }


def _load(session: Session, lot: Any, own_rows: list) -> Structure:
    nodes, link_rows = _lineage(session, lot, own_rows)
    histories = _histories(session, sorted({row[1] for row in link_rows}))
    first_row: dict[int, tuple] = {}
    lots_of: dict[int, set[str]] = {}
    links = []
    for row in link_rows:
        lot_id, fid, fcode = row[0], row[1], row[2]
        sid, crop, variety, sown_on = row[-4:]
        first_row.setdefault(fid, row)
        lots_of.setdefault(fid, set()).add(nodes[lot_id].code)
        season = None if sid is None else SeasonInfo(sid, crop, variety, sown_on)
        links.append(_link(nodes[lot_id], fid, fcode, season, histories[fid]))
    fields = {}
    for fid, row in first_row.items():
        (_, _, fcode, fname, area, geom, epsg, x0, y0, x1, y1, farmer_name, village,
         commune_code, *_season) = row  # fmt: skip
        fields[fid] = TracedField(
            id=fid,
            code=fcode,
            name=fname,
            area_ha=round(area, 4),
            geometry=geom,
            bbox=(x0, y0, x1, y1),
            utm_epsg=epsg,
            farmer_name=farmer_name,
            village=village,
            lots=tuple(sorted(lots_of[fid])),
            commune_code=commune_code,
        )
    return Structure(
        lot=nodes[lot.id],
        lots=nodes,
        links=tuple(links),
        fields=fields,
        field_map=field_map([(f.code, f.geometry) for f in fields.values()]),
        locator=_locator(fields.values()),
        loaded_at=time.monotonic(),
        created_at=lot.created_at,
    )


def _locator(fields: Iterable[TracedField]) -> Locator | None:
    """The fields' places in the province, from each field's bounding-box centre."""
    places = [((f.bbox[0] + f.bbox[2]) / 2, (f.bbox[1] + f.bbox[3]) / 2, f.commune_code)
              for f in fields]  # fmt: skip
    return locator(places, boundaries.load(get_settings().boundaries_file))


def lot_structure(session: Session, *, code: str, cached: bool = True) -> Structure:
    """The cached structure of the lot ``code``; ``NotFound`` if there is no such lot.

    ``cached=False`` reads it afresh (and keeps that copy), as a stored trace must be.
    """
    # Core execution on the session's connection: these plain column SELECTs need none of
    # the ORM's result machinery, which cost more than PostgreSQL took to answer them.
    found_rows = session.connection().execute(_LOT, {"code": code}).all()
    if not found_rows:
        # Never cached: the lot may be recorded a moment later.
        raise NotFound(f"lot '{code}' does not exist")
    lot = found_rows[0]
    key = (str(session.get_bind().url), lot.id, lot.created_at)
    found = _cache.get(key) if cached else None
    if found is None:
        found = _load(session, lot, found_rows)
        _cache.put(key, found, since=found.loaded_at)
    return found
