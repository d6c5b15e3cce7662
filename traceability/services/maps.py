"""What the maps draw, read from the database: a mission's runs, fields and zones; a
field's season; hectares treated per commune.

The drawing itself is :mod:`traceability.maps` (pure). A mission's runs are measured
again from its stored points (the stored result keeps the footprint, not the runs, and
the overlap is where runs cross), with the same fields and zones the measure used.
"""

from datetime import datetime, time, timedelta
from typing import Any

import shapely
from shapely.geometry import shape
from sqlalchemy import Text, cast, func, select
from sqlmodel import Session

from traceability import adminunits, reports
from traceability.config import get_settings
from traceability.errors import NotFound
from traceability.maps.communes import Commune
from traceability.maps.mission import MissionShapes
from traceability.maps.season import FieldSeason, SeasonMission
from traceability.models import (
    FarmField,
    Mission,
    MissionField,
    NoSprayZone,
    Season,
    Unit,
)
from traceability.services import applications
from traceability.services.common import LOCAL_TZ, get_by
from traceability.services.missions.measure import load_track, measure_track
from traceability.services.trace.structure import STRUCTURE_TTL_S, TTLCache


def _subtitle(mission: Mission, lang: str) -> str:
    when = (
        mission.started_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
        if mission.started_at
        else "?"
    )
    treated = mission.treated_area_ha or 0.0
    word = "treated" if lang == "en" else "đã phun"
    product = mission.product_code or "?"
    return f"{when} (+07:00) · {mission.drone_code} · {product} · {treated:.2f} ha {word}"


def _field_rows(session: Session, codes: list[str]) -> list[tuple[str, Any]]:
    if not codes:
        return []
    rows = session.execute(
        select(FarmField.code, FarmField.geometry)
        .where(FarmField.code.in_(codes))
        .order_by(FarmField.code)
    ).all()
    return [(code, shape(g)) for code, g in rows]


def _zone_rows(session: Session, codes: list[str]) -> list[tuple[str, Any, float]]:
    if not codes:
        return []
    rows = session.execute(
        select(NoSprayZone.code, NoSprayZone.geometry, NoSprayZone.buffer_m)
        .where(NoSprayZone.code.in_(codes))
        .order_by(NoSprayZone.code)
    ).all()
    return [(code, shape(g), float(buf or 0.0)) for code, g, buf in rows]


def _treated_codes(session: Session, mission: Mission) -> list[str]:
    return list(
        session.execute(
            select(FarmField.code)
            .join(MissionField, MissionField.field_id == FarmField.id)
            .where(MissionField.mission_pk == mission.id)
        ).scalars()
    )


def mission_shapes(session: Session, *, mission_id: str, lang: str = "vi") -> MissionShapes:
    """The fields near a mission, its sprayed runs and the no-spray zones it was measured
    against (``NotFound`` if there is no such mission)."""
    mission = get_by(session, Mission, "mission", mission_id=mission_id)
    unit = Unit(mission.amount_unit) if mission.amount_unit else Unit.L
    track = load_track(session, mission=mission, unit=unit)
    subtitle = _subtitle(mission, lang)
    if track is None:
        fields = _field_rows(session, _treated_codes(session, mission))
        zones = _zone_rows(session, [z["zone_code"] for z in mission.zones or []])
        return MissionShapes(mission_id, subtitle, fields, (), zones)
    measured = measure_track(
        session, track=track, unit=unit, per_unit=None, settings=get_settings()
    )
    fields = _field_rows(session, sorted(measured.field_codes.values()))
    zone_codes = [z.zone_code for z in measured.zones]
    near = _zone_rows(session, sorted(set(zone_codes) | _zones_in_view(session, fields)))
    return MissionShapes(mission_id, subtitle, fields, tuple(measured.app.runs_wgs84), near)


def _zones_in_view(session: Session, fields: list[tuple[str, Any]]) -> set[str]:
    """Zones whose box meets the fields' box: drawn even when the spray kept clear."""
    if not fields:
        return set()
    minx = min(g.bounds[0] for _, g in fields)
    miny = min(g.bounds[1] for _, g in fields)
    maxx = max(g.bounds[2] for _, g in fields)
    maxy = max(g.bounds[3] for _, g in fields)
    return set(
        session.execute(
            select(NoSprayZone.code).where(
                NoSprayZone.min_lon <= maxx,
                NoSprayZone.max_lon >= minx,
                NoSprayZone.min_lat <= maxy,
                NoSprayZone.max_lat >= miny,
            )
        ).scalars()
    )


# ---------------------------------------------------------------- a field's season


def _season_of(session: Session, field: FarmField, season_id: int | None) -> Season | None:
    """The season asked for (it must be the field's), else the field's latest one."""
    if season_id is not None:
        season = session.get(Season, season_id)
        if season is None or season.field_id != field.id:
            raise NotFound(f"season {season_id} is not a season of field '{field.code}'")
        return season
    return session.execute(
        select(Season)
        .where(Season.field_id == field.id)
        .order_by(Season.sown_on.desc(), Season.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _window(season: Season | None) -> tuple[datetime | None, datetime | None]:
    """The season's first and last instant in Vietnam time (open while it runs)."""
    if season is None:
        return None, None
    start = datetime.combine(season.sown_on, time(), LOCAL_TZ)
    end = season.ended_on and datetime.combine(
        season.ended_on + timedelta(days=1), time(), LOCAL_TZ
    )
    return start, end


def _in(at: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    return at is not None and (start is None or at >= start) and (end is None or at < end)


def _season_missions(
    session: Session, field: FarmField, only: Any, window: tuple
) -> list[SeasonMission]:
    rows = session.execute(
        select(Mission, MissionField.coverage_pct)
        .join(MissionField, MissionField.mission_pk == Mission.id)
        .where(MissionField.field_id == field.id)
        .order_by(Mission.started_at, Mission.mission_id)
    ).all()
    if only is not None and rows:
        # Asked apart: the condition is itself correlated with missions and their fields.
        seen = set(
            session.execute(
                select(Mission.id).where(Mission.id.in_([m.id for m, _ in rows]), only)
            ).scalars()
        )
        rows = [(m, c) for m, c in rows if m.id in seen]
    out = []
    for mission, coverage in rows:
        if not _in(mission.started_at, *window):
            continue
        when = mission.started_at.astimezone(LOCAL_TZ).strftime("%d/%m %H:%M")
        summary = (
            f"{mission.mission_id} · {when} · {mission.product_code or '?'} · {coverage or 0:.0f} %"
        )
        footprint = shape(mission.footprint) if mission.footprint else None
        out.append(SeasonMission(mission.mission_id, summary, footprint))
    return out


def _hand_lines(session: Session, field: FarmField, window: tuple) -> list[str]:
    diary_rows, _ = applications.load(session.connection(), field_ids=[field.id])
    lines = []
    for a in applications.applications(diary_rows, []):
        if a.method != "manual" or not _in(a.at, *window):
            continue
        when = a.at.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")
        product = a.product.name if a.product else (a.product_code or a.activity)
        amount = f" · {a.quantity:g} {a.unit}" if a.quantity is not None else ""
        area = f" · {a.area_ha:g} ha" if a.area_ha else ""
        lines.append(f"{when} · {product}{amount}{area}")
    return lines


def field_season(
    session: Session, *, code: str, season_id: int | None, only: Any = None
) -> FieldSeason:
    """A field's season as its map draws it: the drone missions (those ``only`` admits,
    a SQL condition on ``Mission``) and the hand applications of the season."""
    field = get_by(session, FarmField, "field", code=code)
    season = _season_of(session, field, season_id)
    window = _window(season)
    label = (
        f"{season.crop} {season.variety or ''} · {season.sown_on:%d/%m/%Y} → "
        f"{season.ended_on.strftime('%d/%m/%Y') if season.ended_on else '…'}"
        if season
        else "—"
    )
    return FieldSeason(
        field_code=field.code,
        season=label,
        geometry=shape(field.geometry),
        missions=_season_missions(session, field, only, window),
        hand=_hand_lines(session, field, window),
    )


# ---------------------------------------------------------------- the communes


def commune_map(
    session: Session, *, filters: reports.Filters, province: Any = None
) -> list[Commune]:
    """Every commune with fields, and the hectares sprayed there (the province report's
    "hectares" rows of sprays, within ``filters``; ``province`` when the caller has it
    already): the map is titled hectares sprayed, so fertiliser and seed stay out."""
    frame = reports.province_report(session.connection(), filters) if province is None else province
    hectares = reports.sprayed(frame).groupby("commune_code")["treated_area_ha"].sum()
    out = []
    for code, geoms in commune_fields(session).items():
        unit = adminunits.get(code)
        ha = hectares.get(code)
        out.append(Commune(code, unit.name if unit else code, geoms, float(ha or 0.0)))
    return out


# The fields' shapes per commune, kept by each worker while the fields stay as they
# were: a province's 30,000 outlines took 250-450 ms to read and parse on every view of
# the office's map. Kept at most STRUCTURE_TTL_S, as a lot's structure is, so a change
# made behind the application's back shows within minutes.
_shapes = TTLCache(size=4, ttl_s=STRUCTURE_TTL_S)
_BOX = FarmField.min_lon + FarmField.min_lat + FarmField.max_lon + FarmField.max_lat


def _fields_stamp(session: Session) -> tuple:
    """What changes when a field is added, removed, moved or changes commune: per commune,
    its fields' count, highest id and the sum of their bounding boxes (one indexed scan)."""
    rows = session.execute(
        select(FarmField.commune_code, func.count(), func.max(FarmField.id), func.sum(_BOX))
        .where(FarmField.commune_code.is_not(None))
        .group_by(FarmField.commune_code)
        .order_by(FarmField.commune_code)
    ).all()
    return (str(session.get_bind().url), tuple(tuple(r) for r in rows))


def commune_fields(session: Session, codes: list[str] | None = None) -> dict[str, list]:
    """The fields' shapes (WGS84) of each commune, of ``codes`` or of every commune."""
    stamp = _fields_stamp(session)
    every = _shapes.get(stamp)
    if every is None:
        every = _read_commune_fields(session)
        _shapes.put(stamp, every)
    wanted = every if codes is None else {c: g for c, g in every.items() if c in set(codes)}
    # Lists of their own: the kept ones are shared by every request.
    return {code: list(geoms) for code, geoms in wanted.items()}


def _read_commune_fields(session: Session) -> dict[str, list]:
    # Read as GeoJSON text and parsed in one vectorised call: a province has 30,000 fields.
    query = select(FarmField.commune_code, cast(FarmField.geometry, Text)).where(
        FarmField.commune_code.is_not(None)
    )
    rows = session.execute(query.order_by(FarmField.commune_code, FarmField.code)).all()
    shapes = shapely.from_geojson([g for _, g in rows]) if rows else []
    by_commune: dict[str, list] = {}
    for (code, _), geometry in zip(rows, shapes, strict=True):
        by_commune.setdefault(code, []).append(geometry)
    return by_commune
