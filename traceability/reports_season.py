"""One field's season: every input applied, and its low-emission rice records.

Both reports are built on the application record and the diary's corrected view
(``services.applications``): a correction replaces what it corrects, a withdrawal
removes it, and a drone's diary line is its mission's evidence, not a second
application. No web imports.

A season runs over the Vietnam days from ``sown_on`` to ``ended_on`` (open while it has
no end); its **harvest** is the day of its first standing ``harvest`` entry.
``from``/``to`` limit the applications and water events further; the harvest is always
the season's own.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from traceability.models import (
    Activity,
    Farmer,
    FarmField,
    InputKind,
    Lot,
    LotField,
    Organisation,
    Season,
)
from traceability.reports import Filters, applications_frame, vietnam_day
from traceability.services import applications
from traceability.services.applications import Application
from traceability.services.common import local_day

# ---------------------------------------------------------------- seasons and their records


@dataclass(frozen=True, slots=True)
class SeasonRecord:
    """A field's season with what was done in it: applications and standing diary rows."""

    season: Any
    applications: list[Application]
    diary: list[Any]
    straw: list[Any]
    harvested_on: date | None


def _season_rows(conn: Connection, filters: Filters) -> list[Any]:
    stmt = (
        select(
            Season.id.label("season_id"),
            Season.field_id,
            Season.crop,
            Season.sown_on,
            Season.ended_on,
            FarmField.code.label("field_code"),
            FarmField.commune_code,
            FarmField.area_ha.label("field_area_ha"),
            Organisation.code.label("farmer_organisation"),
        )
        .join(FarmField, FarmField.id == Season.field_id)
        .join(Farmer, Farmer.id == FarmField.farmer_id)
        .outerjoin(Organisation, Organisation.id == Farmer.organisation_id)
        .order_by(FarmField.code, Season.sown_on, Season.id)
    )
    if filters.field:
        stmt = stmt.where(FarmField.code == filters.field)
    if filters.field_codes is not None:
        stmt = stmt.where(FarmField.code.in_(sorted(filters.field_codes)))
    if filters.season is not None:
        stmt = stmt.where(Season.id == filters.season)
    if filters.commune:
        stmt = stmt.where(FarmField.commune_code == filters.commune)
    return list(conn.execute(stmt).all())


def _within(day: date | None, first: date | None, last: date | None) -> bool:
    return day is not None and (first is None or first <= day) and (last is None or day <= last)


def _day(at: Any) -> date | None:
    return local_day(at) if at is not None else None


def _by_field(items: Iterable[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for item in items:
        out.setdefault(item.field_id, []).append(item)
    return out


def _next_sown(seasons: list[Any]) -> dict[int, date | None]:
    """Each season's next season on the same field: when its straw stops being its own."""
    out: dict[int, date | None] = {}
    for same_field in _by_field(seasons).values():
        for s in same_field:
            later = [o.sown_on for o in same_field if o.sown_on > s.sown_on]
            out[s.season_id] = min(later) if later else None
    return out


def _lot_harvests(conn: Connection, field_ids: list[int]) -> dict[int, list[date]]:
    """The harvest days of the lots from each field."""
    out: dict[int, list[date]] = {}
    rows = conn.execute(
        select(LotField.field_id, Lot.harvested_on)
        .join(Lot, Lot.id == LotField.lot_id)
        .where(LotField.field_id.in_(field_ids))
    )
    for field_id, day in rows:
        out.setdefault(field_id, []).append(day)
    return out


def season_records(conn: Connection, filters: Filters) -> list[SeasonRecord]:
    """The seasons ``filters`` name (field, season, commune), each with its records.

    Straw is handled after the harvest, often after the season has ended: a ``straw``
    entry belongs to the season from its sowing until the field's next season is sown.
    """
    seasons = _season_rows(conn, filters)
    if not seasons:
        return []
    diary_rows, mission_rows = applications.load(
        conn, field_ids=sorted({s.field_id for s in seasons})
    )
    apps = _by_field(applications.applications(diary_rows, mission_rows))
    standing = _by_field(r for r in diary_rows if r.stands)
    first, last = filters.since, filters.until
    following = _next_sown(seasons)
    lots = _lot_harvests(conn, sorted({s.field_id for s in seasons}))
    out = []
    for s in seasons:
        mine = standing.get(s.field_id, [])
        in_season = [r for r in mine if _within(_day(r.occurred_at), s.sown_on, s.ended_on)]
        straw_end = following[s.season_id] - timedelta(days=1) if following[s.season_id] else None
        # A harvest is a diary line or a lot from the field, before the next season's sowing.
        harvests = sorted(
            [_day(r.occurred_at) for r in in_season if r.activity == Activity.harvest]
            + [
                d
                for d in lots.get(s.field_id, ())
                if _within(d, s.sown_on, s.ended_on or straw_end)
            ]
        )
        out.append(
            SeasonRecord(
                season=s,
                applications=[
                    a
                    for a in apps.get(s.field_id, [])
                    if _within(_day(a.at), s.sown_on, s.ended_on)
                    and _within(_day(a.at), first, last)
                ],
                diary=[r for r in in_season if _within(_day(r.occurred_at), first, last)],
                straw=[
                    r
                    for r in mine
                    if r.activity == Activity.straw
                    and _within(_day(r.occurred_at), s.sown_on, straw_end)
                ],
                harvested_on=harvests[0] if harvests else None,
            )
        )
    return out


def _season_frame(records: list[SeasonRecord]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "season_id": [r.season.season_id for r in records],
            "crop": [r.season.crop for r in records],
            "sown_on": [r.season.sown_on for r in records],
            "harvested_on": [r.harvested_on for r in records],
            "field_area_ha": [r.season.field_area_ha for r in records],
        }
    )


# ---------------------------------------------------------------- field-season

FIELD_SEASON_COLUMNS = [
    "section",
    "field_code",
    "season_id",
    "crop",
    "sown_on",
    "harvested_on",
    "applied_at",
    "source",
    "product_code",
    "product_name",
    "kind",
    "registration_status",
    "amount",
    "unit",
    "amount_of",
    "treated_area_ha",
    "applications",
    "dose_per_ha",
    "max_dose_per_ha",
    "dose_status",
    "season_amount_per_ha",
    "phi_days",
    "last_applied_on",
    "days_to_harvest",
    "safe_harvest_from",
    "phi_status",
    "mission_id",
    "drone_code",
    "coverage_pct",
    "entry_id",
]
_SECTIONS = {"application": 0, "product": 1, "mission": 2}


def dose_status(dose: Any, maximum: Any, amount_of: Any) -> str | None:
    """ "over" the label's maximum per hectare, "under" it (or at it), None if unknown.

    A dose of tank mix (the product in it unknown) cannot be held against a label.

    >>> dose_status(1.2, 1.0, "product"), dose_status(1.0, 1.0, "product")
    ('over', 'under')
    >>> dose_status(30.0, 1.0, "tank mix") is None, dose_status(1.0, None, "product") is None
    (True, True)
    """
    if pd.isna(dose) or pd.isna(maximum) or amount_of != "product":
        return None
    return "over" if applications.above_label(dose, maximum) else "under"


def phi_status(harvested_on: Any, last: Any, phi_days: Any) -> tuple[str | None, Any, Any]:
    """The PHI verdict of one pesticide: ("kept" | "not kept" | "no harvest yet", days from
    its last application to the harvest, the first day a harvest keeps the PHI).

    >>> phi_status(date(2026, 4, 20), date(2026, 4, 6), 14)[:2]
    ('kept', 14)
    >>> phi_status(date(2026, 4, 19), date(2026, 4, 6), 14)[:2]
    ('not kept', 13)
    >>> phi_status(None, date(2026, 4, 6), 7)
    ('no harvest yet', None, datetime.date(2026, 4, 13))
    """
    if pd.isna(phi_days) or last is None:
        return None, None, None
    safe = last + timedelta(days=int(phi_days))
    if harvested_on is None or pd.isna(harvested_on):
        return "no harvest yet", None, safe
    days = (harvested_on - last).days
    return ("kept" if days >= phi_days else "not kept"), days, safe


def _applications(conn: Connection, records: list[SeasonRecord], filters: Filters) -> pd.DataFrame:
    apps = [a for r in records for a in r.applications]
    ids = [r.season.season_id for r in records for _ in r.applications]
    frame = applications_frame(conn, apps, filters, season_ids=ids)
    frame = frame.merge(_season_frame(records), on="season_id", how="left")
    frame["dose_status"] = [
        dose_status(d, m, o)
        for d, m, o in zip(
            frame["dose_per_ha"], frame["max_dose_per_ha"], frame["amount_of"], strict=True
        )
    ]
    frame["day"] = vietnam_day(frame["applied_at"]) if not frame.empty else []
    return frame


def _phi(frame: pd.DataFrame) -> pd.DataFrame:
    """Per season and pesticide: the last application's day and the PHI verdict."""
    pesticides = frame[frame["kind"] == str(InputKind.pesticide)]
    last = pesticides.groupby(["season_id", "product_code"], as_index=False).agg(
        last_applied_on=("day", "max"),
        harvested_on=("harvested_on", "first"),
        phi_days=("phi_days", "first"),
    )
    verdicts = [
        phi_status(h, d, p)
        for h, d, p in zip(
            last["harvested_on"], last["last_applied_on"], last["phi_days"], strict=True
        )
    ]
    last["phi_status"] = [v[0] for v in verdicts]
    last["days_to_harvest"] = pd.array([v[1] for v in verdicts], dtype="Int64")
    last["safe_harvest_from"] = [v[2] for v in verdicts]
    return last.drop(columns=["harvested_on", "phi_days"])


def _products(frame: pd.DataFrame) -> pd.DataFrame:
    """Per season, product and unit: totals, the highest dose of one application (the
    label's maximum is per application) and the season's amount per hectare of field."""
    keys = ["field_code", "season_id", "product_code", "unit", "amount_of"]
    firsts = ["crop", "sown_on", "harvested_on", "product_name", "kind", "registration_status",
              "max_dose_per_ha"]  # fmt: skip
    out = frame.groupby(keys, as_index=False, dropna=False).agg(
        amount=("amount", lambda s: s.sum(min_count=1)),
        treated_area_ha=("treated_area_ha", lambda s: s.sum(min_count=1)),
        applications=("amount", "size"),
        dose_per_ha=("dose_per_ha", "max"),
        field_area_ha=("field_area_ha", "first"),
        phi_days=("phi_days", "first"),
        **{c: (c, "first") for c in firsts},
    )
    out["dose_status"] = [
        dose_status(d, m, o)
        for d, m, o in zip(
            out["dose_per_ha"], out["max_dose_per_ha"], out["amount_of"], strict=True
        )
    ]
    out["season_amount_per_ha"] = (out["amount"] / out["field_area_ha"]).round(6)
    out = out.merge(_phi(frame), on=["season_id", "product_code"], how="left")
    out["section"] = "product"
    return out


def _missions(frame: pd.DataFrame) -> pd.DataFrame:
    """Each drone mission's part on the field: hectares, coverage, amount."""
    out = frame[frame["source"] == "drone"].copy()
    out["section"] = "mission"
    return out


def field_season_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Every input applied on a field in a season, its totals and their verdicts.

    One flat table told apart by ``section``: "application" rows (one per application,
    diary or drone, corrected view, in the product's unit; ``dose_status`` against the
    label), "product" rows (per product and unit: totals, the highest dose of one
    application against the label maximum, ``season_amount_per_ha`` of the field, and for
    a pesticide the PHI verdict against the season's harvest), and "mission" rows (each
    drone mission on the field: treated hectares and ``coverage_pct``).
    """
    records = season_records(conn, filters)
    frame = _applications(conn, records, filters)
    if frame.empty:
        return pd.DataFrame(columns=FIELD_SEASON_COLUMNS)
    apps = frame.assign(section="application", applications=1)
    parts = [apps, _products(frame), _missions(frame)]
    out = pd.concat(parts, ignore_index=True).reindex(columns=FIELD_SEASON_COLUMNS)
    out["applications"] = out["applications"].astype("Int64")
    out["order"] = out["section"].map(_SECTIONS)
    out = out.sort_values(
        ["field_code", "season_id", "order", "applied_at", "product_code", "unit"],
        na_position="first",
        kind="stable",
    )
    return out.drop(columns="order").reset_index(drop=True)


# ---------------------------------------------------------------- low-emission rice

LOW_EMISSION_COLUMNS = [
    "field_code",
    "commune_code",
    "season_id",
    "crop",
    "sown_on",
    "ended_on",
    "harvested_on",
    "field_area_ha",
    "irrigations",
    "drying_events",
    "drying_days",
    "dry_since",
    "nitrogen_kg",
    "nitrogen_kg_per_ha",
    "nitrogen_unknown",
    "seed_kg_per_ha",
    "straw_handling",
    "straw_burnt",
]


@dataclass(frozen=True, slots=True)
class Water:
    """Alternate wetting and drying, from the diary's ``drain`` and ``irrigate`` entries."""

    irrigations: int
    drying_events: int
    drying_days: int
    dry_since: date | None


def water(events: Iterable[tuple[date, str]], harvested_on: date | None = None) -> Water:
    """Drying events and days from a season's water entries (Vietnam day, activity).

    The field starts flooded. A ``drain`` of a flooded field starts a drying event; the
    next ``irrigate`` ends it, its days counted from the drain's day to the irrigation's.
    A drain of a field already dry starts nothing. A field still dry at the harvest
    counts its days up to the harvest; without a harvest the event is still under way
    (``dry_since``) and its days are not counted yet.

    >>> d = date(2026, 1, 1)
    >>> water([(d, "drain"), (d + timedelta(5), "irrigate"), (d + timedelta(9), "drain"),
    ...        (d + timedelta(10), "drain"), (d + timedelta(16), "irrigate")])
    Water(irrigations=2, drying_events=2, drying_days=12, dry_since=None)
    >>> water([(d, "drain")], harvested_on=d + timedelta(14)).drying_days
    14
    """
    irrigations = events_n = days = 0
    since: date | None = None
    for day, activity in sorted(events):
        if activity == Activity.irrigate:
            irrigations += 1
            if since is not None:
                days += (day - since).days
                since = None
        elif activity == Activity.drain and since is None:
            events_n += 1
            since = day
    if since is not None and harvested_on is not None:
        days += (harvested_on - since).days
        since = None
    return Water(irrigations, events_n, days, since)


def nitrogen(apps: Iterable[Application]) -> tuple[float, int]:
    """Kilograms of nitrogen in ``apps`` and how many fertiliser applications could not be
    counted (no ``nitrogen_pct`` on the product, a liquid, or a tank mix of unknown strength).

    >>> from traceability.services.applications import Product
    >>> urea = Product("U", "Urê", InputKind.fertilizer, "kg", None, None, None, None, 46.0)
    >>> def a(q, unit="kg", p=urea):
    ...     return Application("diary", 1, None, "fertilize", "manual", p, p.code, q, unit,
    ...                        True, 1.0, q)
    >>> nitrogen([a(100.0), a(50.0)])
    (69.0, 0)
    """
    kg, unknown = 0.0, 0
    for a in apps:
        product = a.product
        if product is None or (product.kind != InputKind.fertilizer and not product.nitrogen_pct):
            continue
        if product.nitrogen_pct is None or a.unit != "kg" or not a.in_product_unit:
            unknown += 1
        elif a.quantity is not None:
            kg += a.quantity * product.nitrogen_pct / 100.0
    return round(kg, 6), unknown


def _seed_per_ha(record: SeasonRecord) -> float | None:
    kg = [
        a.quantity
        for a in record.applications
        if a.product is not None
        and a.product.kind == InputKind.seed
        and a.unit == "kg"
        and a.in_product_unit
        and a.quantity is not None
    ]
    return round(sum(kg) / record.season.field_area_ha, 3) if kg else None


def _straw(record: SeasonRecord) -> tuple[str | None, bool | None]:
    codes = [str(r.straw_handling) for r in record.straw if r.straw_handling is not None]
    if not codes:
        return None, None
    return " ".join(dict.fromkeys(codes)), "burnt" in codes


def _low_emission_row(record: SeasonRecord) -> dict[str, Any]:
    s = record.season
    wet = water(
        ((_day(r.occurred_at), str(r.activity)) for r in record.diary),
        record.harvested_on,
    )
    n_kg, n_unknown = nitrogen(record.applications)
    straw, burnt = _straw(record)
    return {
        "field_code": s.field_code,
        "commune_code": s.commune_code,
        "season_id": s.season_id,
        "crop": s.crop,
        "sown_on": s.sown_on,
        "ended_on": s.ended_on,
        "harvested_on": record.harvested_on,
        "field_area_ha": s.field_area_ha,
        "irrigations": wet.irrigations,
        "drying_events": wet.drying_events,
        "drying_days": wet.drying_days,
        "dry_since": wet.dry_since,
        "nitrogen_kg": n_kg,
        "nitrogen_kg_per_ha": round(n_kg / s.field_area_ha, 3),
        "nitrogen_unknown": n_unknown,
        "seed_kg_per_ha": _seed_per_ha(record),
        "straw_handling": straw,
        "straw_burnt": burnt,
    }


def low_emission_rice_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Per field and season, what the Mekong's low-emission rice programme measures.

    Water (alternate wetting and drying, :func:`water`), nitrogen applied in kg N per
    hectare of the field (:func:`nitrogen`), seeding rate in kg per hectare, and what
    became of the straw (the ``straw_handling`` codes of the season's ``straw`` entries,
    never their notes). ``organisation`` limits it to a cooperative's members' fields.
    """
    records = season_records(conn, filters)
    if filters.organisation:
        records = [r for r in records if r.season.farmer_organisation == filters.organisation]
    if filters.product:
        records = [
            SeasonRecord(
                r.season,
                [a for a in r.applications if a.product_code == filters.product],
                r.diary,
                r.straw,
                r.harvested_on,
            )
            for r in records
        ]
    rows = [_low_emission_row(r) for r in records]
    return pd.DataFrame(rows, columns=LOW_EMISSION_COLUMNS)
