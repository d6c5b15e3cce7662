"""The low-emission rice report: per field and season, what the Mekong's programme measures.

Beside the records (water, nitrogen, seed, straw), each row carries the season's methane
by the IPCC 2019 Tier 1 method (``reports.ghg``), its baseline and the reduction — null,
with the reason in ``ch4_reason``, where the records cannot say — and the indicators
against the programme's targets (Decision 1490/QĐ-TTg), each ``pass``, ``fail`` or
``unknown`` (:data:`TARGETS`).
"""

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from traceability.config import get_settings
from traceability.models import Activity, InputKind
from traceability.reports.common import Filters, connected
from traceability.reports.evidence import evidence
from traceability.reports.ghg import SeasonGhg, factors, reasons, season_ghg
from traceability.reports.kept import Kept, kept_rows
from traceability.reports.season import SeasonRecord, emission_records, entry_day
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
    # The season's water regime (IPCC classes) and its methane, IPCC 2019 Tier 1.
    "water_regime",
    "drainage_periods",
    "flooded_days",
    "drained_days",
    "pre_season",
    "pre_season_basis",
    "cultivation_days",
    "straw_before_sowing",
    "straw_t_per_ha",
    "straw_days_before_sowing",
    "ch4_kg_per_ha",
    "baseline_ch4_kg_per_ha",
    "ch4_reduction_kg_per_ha",
    "co2e_reduction_t_per_ha",
    "ch4_kg",
    "baseline_ch4_kg",
    "ch4_reduction_kg",
    "co2e_reduction_t",
    "ch4_reason",
    "efc",
    "sfw",
    "sfp",
    "sfo",
    "baseline_sfo",
    "gwp_ch4",
    # The programme's targets.
    "seed_target",
    "n_reference_kg_per_ha",
    "n_reference_source",
    "n_reduction_pct",
    "n_target",
    "n_target_reason",
    "sprays_hand",
    "sprays_drone",
    "sprays_reference",
    "sprays_reference_source",
    "sprays_target",
    "sprays_target_reason",
    "straw_target",
    "water_target",
]

#: The programme's targets (Decision 1490/QĐ-TTg) as each indicator holds them.
TARGETS = {
    "seed": "seed at most 100 kg/ha (the programme's 70-100 kg/ha)",
    "n": "nitrogen at least 30 % under the province's reference rate",
    "sprays": "pesticide sprays at least 30 % under the province's reference count",
    "straw": "all straw collected from the field (removed or composted), none burnt",
    "water": "alternate wetting and drying: more than one drainage period (IPCC multiple drainage)",
}
MAX_SEED_KG_PER_HA = 100.0
CUT = 0.30


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


def verdict(ok: bool | None) -> str:
    """``pass``, ``fail`` or ``unknown``.

    >>> verdict(True), verdict(False), verdict(None)
    ('pass', 'fail', 'unknown')
    """
    return "unknown" if ok is None else ("pass" if ok else "fail")


def _per_ha_times(value: float | None, area: float) -> float | None:
    return round(value * area, 6) if value is not None else None


def _ghg_columns(g: SeasonGhg, area: float) -> dict[str, Any]:
    e = g.estimate
    return {
        "water_regime": str(g.water.regime) if g.water.regime else None,
        "drainage_periods": g.water.drainage_periods,
        "flooded_days": g.water.flooded_days,
        "drained_days": g.water.drained_days,
        "pre_season": str(g.pre_regime) if g.pre_regime else None,
        "pre_season_basis": g.pre_basis,
        "cultivation_days": e.days,
        "straw_before_sowing": g.straw.handling,
        "straw_t_per_ha": g.straw.t_per_ha,
        "straw_days_before_sowing": g.straw.days_before_sowing,
        "ch4_kg_per_ha": e.ch4_kg_per_ha,
        "baseline_ch4_kg_per_ha": e.baseline_ch4_kg_per_ha,
        "ch4_reduction_kg_per_ha": e.ch4_reduction_kg_per_ha,
        "co2e_reduction_t_per_ha": e.co2e_reduction_t_per_ha,
        "ch4_kg": _per_ha_times(e.ch4_kg_per_ha, area),
        "baseline_ch4_kg": _per_ha_times(e.baseline_ch4_kg_per_ha, area),
        "ch4_reduction_kg": _per_ha_times(e.ch4_reduction_kg_per_ha, area),
        "co2e_reduction_t": _per_ha_times(e.co2e_reduction_t_per_ha, area),
        "ch4_reason": reasons(g),
        "efc": e.efc,
        "sfw": e.sfw,
        "sfp": e.sfp,
        "sfo": e.sfo,
        "baseline_sfo": e.baseline_sfo,
        "gwp_ch4": e.gwp_ch4,
    }


def _sprays(record: SeasonRecord) -> tuple[int, int]:
    """Pesticide applications of the season by hand and by drone."""
    hand = drone = 0
    for a in record.applications:
        if a.is_pesticide:
            if a.source == "drone":
                drone += 1
            else:
                hand += 1
    return hand, drone


def _straw_collected(codes: list[str]) -> bool | None:
    if not codes:
        return None
    return all(c in ("removed", "composted") for c in codes)


@dataclass(frozen=True, slots=True)
class Reference:
    """A province's reference that "30 % less" is measured against, and where it comes
    from; ``value`` None when the office has set none (``why`` then says so)."""

    value: float | None
    source: str | None
    why: str | None


def _reference(value: float | None, source: str | None, setting: str, what: str) -> Reference:
    if value is None:
        return Reference(None, None, f"no reference {what} set for the province ({setting})")
    return Reference(value, source or f"set by the office ({setting}); no source given", None)


def references() -> tuple[Reference, Reference]:
    """The province's reference nitrogen rate (kg N/ha) and number of pesticide sprays per
    season, as the office set them (``AGRITRACE_N_REFERENCE_KG_PER_HA`` and
    ``AGRITRACE_SPRAYS_REFERENCE``, with ``..._SOURCE`` saying where each comes from).

    No default: the programme's targets are relative to the farmer's or the province's
    own practice, and no published reference for Cà Mau could be cited.
    """
    s = get_settings()
    return (
        _reference(
            s.n_reference_kg_per_ha,
            s.n_reference_source,
            "AGRITRACE_N_REFERENCE_KG_PER_HA",
            "nitrogen rate (kg N/ha)",
        ),
        _reference(
            s.sprays_reference,
            s.sprays_reference_source,
            "AGRITRACE_SPRAYS_REFERENCE",
            "number of pesticide sprays per season",
        ),
    )


def _target_columns(record: SeasonRecord, row: dict[str, Any]) -> dict[str, Any]:
    n_ref, sprays_ref = references()
    ref = n_ref.value
    n_known = row["nitrogen_unknown"] == 0
    cut = (ref - row["nitrogen_kg_per_ha"]) / ref if ref and n_known else None
    n_why = n_ref.why or (
        None
        if n_known
        else f"nitrogen: {row['nitrogen_unknown']} fertiliser application(s) of unknown "
        "nitrogen (no nitrogen_pct on the product, or not in kg of product)"
    )
    hand, drone = _sprays(record)
    codes = [str(r.straw_handling) for r in record.straw if r.straw_handling is not None]
    seed = row["seed_kg_per_ha"]
    regime = row["water_regime"]
    return {
        "seed_target": verdict(None if seed is None else seed <= MAX_SEED_KG_PER_HA),
        "n_reference_kg_per_ha": ref,
        "n_reference_source": n_ref.source,
        "n_reduction_pct": round(cut * 100, 2) if cut is not None else None,
        "n_target": verdict(None if cut is None else cut >= CUT - 1e-9),
        "n_target_reason": n_why,
        "sprays_hand": hand,
        "sprays_drone": drone,
        "sprays_reference": sprays_ref.value,
        "sprays_reference_source": sprays_ref.source,
        "sprays_target": verdict(
            None
            if sprays_ref.value is None
            else (hand + drone) <= sprays_ref.value * (1 - CUT) + 1e-9
        ),
        "sprays_target_reason": sprays_ref.why,
        "straw_target": verdict(_straw_collected(codes)),
        "water_target": verdict(None if regime is None else regime == "multiple_drainage"),
    }


def _low_emission_row(record: SeasonRecord, g: SeasonGhg) -> dict[str, Any]:
    s = record.season
    wet = water(
        ((entry_day(r), str(r.activity)) for r in record.diary),
        record.harvested_on,
    )
    n_kg, n_unknown = nitrogen(record.applications)
    straw, burnt = _straw(record)
    row = {
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
    row |= _ghg_columns(g, s.field_area_ha)
    return row | _target_columns(record, row)


def low_emission_rows(
    conn: Connection,
    filters: Filters,
    f: Any = None,
    load: Callable[[Connection, Filters], list[SeasonRecord]] = emission_records,
) -> tuple[list[SeasonRecord], list[dict[str, Any]], list[SeasonGhg]]:
    """The seasons ``filters`` name, their rows of the low-emission rice report and their
    greenhouse-gas figures. ``load`` reads the seasons' records (``season_records``, one
    field-season record at a time, gives the same rows; the benchmark compares them)."""
    records = load(conn, filters)
    if filters.organisation:
        records = [r for r in records if r.season.farmer_organisation == filters.organisation]
    if filters.product:
        records = [
            dataclasses.replace(
                r, applications=[a for a in r.applications if a.product_code == filters.product]
            )
            for r in records
        ]
    f = f or factors()
    ghgs = [season_ghg(r, f) for r in records]
    return records, [_low_emission_row(r, g) for r, g in zip(records, ghgs, strict=True)], ghgs


@connected
def low_emission_rice_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Per field and season, what the Mekong's low-emission rice programme measures.

    Water (alternate wetting and drying, :func:`water`), nitrogen applied in kg N per
    hectare of the field (:func:`nitrogen`), seeding rate in kg per hectare, and what
    became of the straw (the ``straw_handling`` codes of the season's ``straw`` entries,
    never their notes); the season's IPCC water regime and methane, its baseline and
    reduction (``reports.ghg``); the programme's targets (:data:`TARGETS`).
    ``organisation`` limits it to a cooperative's members' fields.
    """
    kept = season_rows(conn, filters)
    return pd.DataFrame([row for row, _ in kept], columns=LOW_EMISSION_COLUMNS)


# The report's columns holding a day (kept rows hold them as ISO dates).
DAY_COLUMNS = ("sown_on", "ended_on", "harvested_on", "dry_since")


def _computed(conn: Connection, filters: Filters) -> list[Kept]:
    records, rows, ghgs = low_emission_rows(conn, filters)
    return [(row, evidence(r, g)) for r, row, g in zip(records, rows, ghgs, strict=True)]


def season_rows(conn: Connection, filters: Filters, *, with_evidence: bool = False) -> list[Kept]:
    """The report's row of each season ``filters`` names, and its evidence if
    ``with_evidence``: kept ones where they still hold (``reports.kept``)."""
    return kept_rows(
        conn, filters, _computed, columns=LOW_EMISSION_COLUMNS, dates=DAY_COLUMNS,
        evidence=with_evidence,
    )  # fmt: skip
