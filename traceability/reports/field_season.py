"""The field-season report: every input applied on a field in a season, and its verdicts."""

from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from traceability.models import InputKind
from traceability.reports.common import Filters, connected, vietnam_day
from traceability.reports.field_applications import applications_frame
from traceability.reports.season import SeasonRecord, season_frame, season_records
from traceability.services import applications

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

    >>> from datetime import date
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
    frame = frame.merge(season_frame(records), on="season_id", how="left")
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


@connected
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
