"""The low-emission rice report: per field and season, what the Mekong's programme measures."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from traceability.models import Activity, InputKind
from traceability.reports.common import Filters, connected
from traceability.reports.season import SeasonRecord, day_of, season_records
from traceability.services.applications import Application

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

    >>> from datetime import timedelta
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
        ((day_of(r.occurred_at), str(r.activity)) for r in record.diary),
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


@connected
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
