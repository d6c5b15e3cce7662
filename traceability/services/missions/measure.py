"""Measuring a mission: its points, the fields and zones near them, the geometry, the result.

A mission is measured when it is complete and ``dirty`` (its end event arrived, or late
points came after it), never per message. Measuring is idempotent: it recomputes
everything from the stored points and replaces the previous result — the mission's
figures, its per-field rows (:class:`~traceability.models.MissionField`), its zones and
flags — and brings the treated fields' diaries in line (:mod:`.diary_lines`).

Candidate fields and zones are picked by bounding box in SQL, so the cost depends on the
fields near the flight, not on how many the province has.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from shapely.geometry import shape
from sqlalchemy import delete, select
from sqlmodel import Session

from traceability import geo
from traceability.config import Settings, get_settings
from traceability.models import (
    Drone,
    FarmField,
    InputKind,
    InputProduct,
    Mission,
    MissionField,
    MissionStatus,
    MissionType,
    NoSprayZone,
    TelemetryPoint,
    Unit,
    utcnow,
)
from traceability.services.fields import bbox_clause
from traceability.services.missions import flags as mission_flags
from traceability.services.missions.claims import far_from_plan, store_claims
from traceability.services.missions.diary_lines import write_diary_lines
from traceability.services.missions.evidence import points_digest
from traceability.services.missions.result import Measured, geojson, rounded


def amount_unit(mission: Mission, product: InputProduct | None) -> Unit:
    """L or kg of what leaves the drone: a spray is a liquid (``flow_lpm``), granules
    and seed are spread by weight (``flow_kgpm``) — whatever unit the product is sold in."""
    if mission.type == MissionType.spray:
        return Unit.L
    if mission.type in (MissionType.fertilize, MissionType.seed):
        return Unit.kg
    if product is not None and product.kind != InputKind.pesticide:
        return Unit(product.unit)
    return Unit.L


def product_factor(mission: Mission, product: InputProduct | None, unit: Unit) -> float | None:
    """Product units per unit of what left the drone, or None when it is not known.

    A spray goes out as a tank mix, so only the start event's ``tank_mix`` tells how much
    product a litre holds; granules and seed spread dry are the product itself.
    """
    if product is None:
        return None
    if mission.product_per_unit:
        return mission.product_per_unit
    if mission.type != MissionType.spray and Unit(product.unit) == unit:
        return 1.0
    return None


@dataclass(frozen=True, slots=True)
class Track:
    """A mission's fixes in time order, as arrays for ``geo.measure_application``."""

    t: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    spraying: np.ndarray
    rate: np.ndarray
    swath_m: np.ndarray

    @property
    def max_swath_m(self) -> float:
        """The widest swath flown (0 when none is known)."""
        return float(np.nanmax(self.swath_m)) if np.isfinite(self.swath_m).any() else 0.0


@dataclass(frozen=True, slots=True)
class Measurement:
    """What a mission's stored points measure to, before anything of it is stored."""

    product: InputProduct | None
    unit: Unit
    per_unit: float | None
    track: Track | None
    measured: Measured | None
    far: list  # the mission's planned fields its fixes never came near (flags)
    far_rows: list[dict]  # the same as claim rows


def measure_mission(session: Session, *, mission: Mission) -> Mission:
    """Measure ``mission`` from its stored points and store the result (no commit)."""
    return store_measurement(
        session, mission=mission, measurement=measure_points(session, mission=mission)
    )


def measure_points(session: Session, *, mission: Mission) -> Measurement:
    """Measure ``mission`` from its stored points, writing nothing: the long part of
    measuring (the points, the fields and zones near them, the geometry)."""
    product = _product(session, mission)
    unit = amount_unit(mission, product)
    track = load_track(session, mission=mission, unit=unit)
    none = np.empty(0)
    far_rows, far = far_from_plan(
        session,
        mission=mission,
        lon=track.lon if track is not None else none,
        lat=track.lat if track is not None else none,
    )
    per_unit = product_factor(mission, product, unit)
    measured = (
        None
        if track is None
        else measure_track(
            session, track=track, unit=unit, per_unit=per_unit, settings=get_settings()
        )
    )
    return Measurement(product, unit, per_unit, track, measured, far, far_rows)


def store_measurement(session: Session, *, mission: Mission, measurement: Measurement) -> Mission:
    """Store ``measurement`` as ``mission``'s result, replacing the previous one, and bring
    the treated fields' diaries in line if the mission is complete (no commit)."""
    m = measurement
    session.execute(delete(MissionField).where(MissionField.mission_pk == mission.id))
    store_claims(session, mission=mission, rows=m.far_rows)
    mission.amount_unit = m.unit
    mission.product_unit = Unit(m.product.unit) if m.product else None
    mission.measured_at = utcnow()
    # The fixes' own times are when the work was done; the events only claim it.
    track = m.track
    mission.first_fix_at = _fix_time(track.t[0]) if track is not None else None
    mission.last_fix_at = _fix_time(track.t[-1]) if track is not None else None
    if m.measured is None:
        _store_empty(mission, m.per_unit)
    else:
        _store(session, mission, m.measured)
    mission.flags = mission_flags.to_json(
        mission_flags.mission_flags(
            mission=mission, product=m.product, measured=m.measured, settings=get_settings()
        )
        + m.far
    )
    if m.measured is not None and mission.status is MissionStatus.complete:
        digest = points_digest(zip(track.t, track.lon, track.lat, track.spraying, strict=True))
        write_diary_lines(
            session, mission=mission, product=m.product, measured=m.measured, points_sha256=digest
        )
    return mission


def _fix_time(epoch_s: float) -> datetime:
    # Fixes are stored to the microsecond; a float of epoch seconds holds that exactly enough.
    return datetime.fromtimestamp(round(float(epoch_s), 6), UTC)


def _product(session: Session, mission: Mission) -> InputProduct | None:
    product = session.get(InputProduct, mission.product_id) if mission.product_id else None
    if product is None and mission.product_code:
        product = session.execute(
            select(InputProduct).where(InputProduct.code == mission.product_code)
        ).scalar_one_or_none()
    return product


def load_track(session: Session, *, mission: Mission, unit: Unit) -> Track | None:
    """The mission's stored fixes (None if it has none), each with its rate in ``unit``
    per minute and its swath: the fix's own, else the mission's, else the drone's."""
    t = TelemetryPoint.__table__.c
    rate_col = t.flow_lpm if unit is Unit.L else t.flow_kgpm
    rows = session.execute(
        select(t.ts, t.lon, t.lat, t.spraying, rate_col, t.swath_m)
        .where(t.mission_id == mission.mission_id)
        .order_by(t.ts, t.seq)
    ).all()
    if not rows:
        return None
    default_swath = (
        mission.swath_m
        or session.execute(
            select(Drone.swath_m).where(Drone.code == mission.drone_code)
        ).scalar_one_or_none()
    )
    n = len(rows)
    return Track(
        t=np.fromiter((r[0].timestamp() for r in rows), float, n),
        lon=np.fromiter((r[1] for r in rows), float, n),
        lat=np.fromiter((r[2] for r in rows), float, n),
        spraying=np.fromiter((bool(r[3]) for r in rows), bool, n),
        rate=np.fromiter((np.nan if r[4] is None else r[4] for r in rows), float, n),
        swath_m=np.fromiter(
            (r[5] if r[5] is not None else (default_swath or np.nan) for r in rows), float, n
        ),
    )


def measure_track(
    session: Session, *, track: Track, unit: Unit, per_unit: float | None, settings: Settings
) -> Measured:
    """Measure ``track`` against the registered fields and no-spray zones near it."""
    box = geo.bbox_wgs84(track.lon, track.lat, margin_m=track.max_swath_m / 2.0 + 1.0)
    field_rows = session.execute(
        select(FarmField.id, FarmField.code, FarmField.geometry).where(*bbox_clause(FarmField, box))
    ).all()
    zone_rows = _zones_near(session, track)
    app = geo.measure_application(
        lon=track.lon,
        lat=track.lat,
        t=track.t,
        spraying=track.spraying,
        rate=track.rate,
        swath_m=track.swath_m,
        fields=[(fid, shape(g)) for fid, _, g in field_rows],
        zones=[(code, shape(g), buf) for code, _, _, g, buf in zone_rows],
        max_gap_s=settings.max_gap_s,
    )
    return Measured.of(
        app,
        unit=unit,
        per_unit=per_unit,
        field_codes={fid: code for fid, code, _ in field_rows},
        zone_info={code: (kind, name, buf) for code, kind, name, _, buf in zone_rows},
    )


def _zones_near(session: Session, track: Track) -> list:
    # A zone reaches as far as its buffer: search as far as the widest buffer of any.
    max_buffer = session.execute(
        select(NoSprayZone.buffer_m).order_by(NoSprayZone.buffer_m.desc()).limit(1)
    ).scalar()
    if max_buffer is None:
        return []
    margin = track.max_swath_m / 2.0 + float(max_buffer) + 1.0
    zbox = geo.bbox_wgs84(track.lon, track.lat, margin_m=margin)
    return session.execute(
        select(
            NoSprayZone.code,
            NoSprayZone.kind,
            NoSprayZone.name,
            NoSprayZone.geometry,
            NoSprayZone.buffer_m,
        ).where(*bbox_clause(NoSprayZone, zbox))
    ).all()


def _store_empty(mission: Mission, per_unit: float | None) -> None:
    mission.applied_amount = 0.0
    mission.product_amount = 0.0 if per_unit is not None else None
    mission.sprayed_area_ha = mission.treated_area_ha = mission.overspray_area_ha = 0.0
    mission.overlap_area_ha = mission.nospray_area_ha = 0.0
    mission.zones, mission.footprint = [], None


def _store(session: Session, mission: Mission, measured: Measured) -> None:
    for f in measured.fields:
        fa = f.measured
        session.add(
            MissionField(
                mission_pk=mission.id,
                field_id=f.field_id,
                treated_area_ha=rounded(fa.treated_area_ha),
                coverage_pct=rounded(fa.coverage_pct, 4),
                applied_amount=rounded(fa.applied_amount),
                dose_per_ha=rounded(fa.dose_per_ha),
                product_amount=f.product_amount,
                product_dose_per_ha=rounded(f.product_dose_per_ha),
            )
        )
    app = measured.app
    mission.applied_amount = rounded(app.applied_amount)
    mission.product_amount = measured.product_amount
    mission.sprayed_area_ha = rounded(app.sprayed_area_ha)
    mission.treated_area_ha = rounded(app.treated_area_ha)
    mission.overspray_area_ha = rounded(app.overspray_area_ha)
    mission.overlap_area_ha = rounded(app.overlap_area_ha)
    mission.nospray_area_ha = rounded(sum(h.area_ha for h in app.zones))
    mission.zones = [z.to_json() for z in measured.zones]
    mission.footprint = geojson(app.footprint_wgs84)
