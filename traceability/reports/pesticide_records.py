"""The pesticide-records report: one row per application of a pesticide, for inspectors."""

from typing import Any

import pandas as pd
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.engine import Connection

from traceability.geo.projection import to_metres, to_wgs84
from traceability.models import FarmField, Season
from traceability.reports.common import Filters, connected, vietnam_day
from traceability.reports.field_applications import applications_in

PESTICIDE_COLUMNS = [
    "applied_at",
    "field_code",
    "commune_code",
    "lon",
    "lat",
    "crop",
    "product_code",
    "product_name",
    "registration_no",
    "registration_status",
    "active_ingredient",
    "amount",
    "unit",
    "amount_of",
    "treated_area_ha",
    "dose_per_ha",
    "max_dose_per_ha",
    "phi_days",
    "source",
    "drone_code",
    "mission_id",
    "entry_id",
]


def _centroids(conn: Connection, field_ids: list[int]) -> dict[int, tuple[float, float]]:
    """Each field's centroid in WGS84, taken in metres (its UTM zone), not in degrees."""
    rows = conn.execute(
        select(FarmField.id, FarmField.geometry, FarmField.utm_epsg).where(
            FarmField.id.in_(field_ids)
        )
    ).all()
    out = {}
    for field_id, geometry, epsg in rows:
        metres, epsg = to_metres(shape(geometry), epsg)
        point = to_wgs84(metres.centroid, epsg)
        out[field_id] = (round(point.x, 6), round(point.y, 6))
    return out


def _crops(conn: Connection, frame: pd.DataFrame) -> list[str | None]:
    """The crop of the season under way on each application's field and Vietnam day."""
    seasons: dict[int, list[Any]] = {}
    stmt = select(Season.field_id, Season.crop, Season.sown_on, Season.ended_on).where(
        Season.field_id.in_(frame["field_id"].unique().tolist())
    )
    for row in conn.execute(stmt.order_by(Season.sown_on.desc())):
        seasons.setdefault(row.field_id, []).append(row)
    out = []
    for field_id, day in zip(frame["field_id"], vietnam_day(frame["applied_at"]), strict=True):
        crop = next(
            (
                s.crop
                for s in seasons.get(field_id, ())
                if s.sown_on <= day and (s.ended_on is None or day <= s.ended_on)
            ),
            None,
        )
        out.append(crop)
    return out


@connected
def pesticide_records_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """One row per application of a pesticide, for inspectors (VietGAP, EU 2023/564).

    A spray naming no known product is listed too: an inspector must see it.
    """
    frame = applications_in(conn, filters)
    frame = frame[frame["is_pesticide"] != False].reset_index(drop=True)  # noqa: E712 - None stays
    if frame.empty:
        return pd.DataFrame(columns=PESTICIDE_COLUMNS)
    where = _centroids(conn, frame["field_id"].unique().tolist())
    frame["lon"] = frame["field_id"].map(lambda f: where[f][0])
    frame["lat"] = frame["field_id"].map(lambda f: where[f][1])
    frame["crop"] = _crops(conn, frame)
    return frame[PESTICIDE_COLUMNS].sort_values(
        ["applied_at", "field_code", "product_code"], ignore_index=True
    )
