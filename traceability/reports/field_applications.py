"""The application record as a frame, and the field-applications report built on it.

Amounts come from the application record (``services.applications``): the diary's
corrected view, drone missions with their diary lines counted once.
"""

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from traceability.models import Drone, Farmer, FarmField, Organisation
from traceability.reports.common import Filters, connected, drone_org
from traceability.services import applications

# Up to this many fields are looked up by id; more, and reading them all costs less.
_FEW_FIELDS = 500


def _fields(conn: Connection, ids: set[int] | None = None) -> pd.DataFrame:
    farmer_org = aliased(Organisation, name="farmer_org")
    stmt = (
        select(
            FarmField.id.label("field_id"),
            FarmField.code.label("field_code"),
            FarmField.commune_code,
            farmer_org.code.label("farmer_organisation"),
        )
        .join(Farmer, Farmer.id == FarmField.farmer_id)
        .outerjoin(farmer_org, farmer_org.id == Farmer.organisation_id)
    )
    if ids is not None and len(ids) <= _FEW_FIELDS:
        stmt = stmt.where(FarmField.id.in_(sorted(ids)))
    return pd.read_sql(stmt, conn).set_index("field_id")


def _drone_orgs(conn: Connection) -> dict[str, str | None]:
    stmt = select(Drone.code, drone_org.code).outerjoin(
        drone_org, drone_org.id == Drone.organisation_id
    )
    return dict(conn.execute(stmt).all())


def applications_in(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Every application of a named product in the record, filtered, one row each."""
    since, until = filters.bounds()
    return applications_frame(conn, applications.load_all(conn, since=since, until=until), filters)


def applications_frame(
    conn: Connection,
    apps: list[applications.Application],
    filters: Filters,
    season_ids: list[int] | None = None,
) -> pd.DataFrame:
    """``apps`` that name a product, one row each, with their field, commune and
    organisations, limited by ``filters``' product, commune, drone and organisation.

    ``season_ids`` (one per application) adds a ``season_id`` column.
    """
    named = [
        i
        for i, a in enumerate(apps)
        if a.product_code and (filters.product is None or a.product_code == filters.product)
    ]
    seasons = [season_ids[i] for i in named] if season_ids is not None else None
    apps = [apps[i] for i in named]
    fields = _fields(conn, {a.field_id for a in apps})
    orgs = _drone_orgs(conn)
    frame = pd.DataFrame(
        {
            "field_id": pd.array([a.field_id for a in apps], dtype="int64"),
            "applied_at": pd.to_datetime([a.at for a in apps], utc=True),
            "product_code": [a.product_code for a in apps],
            "product_name": [a.product.name if a.product else None for a in apps],
            "kind": [str(a.product.kind) if a.product else None for a in apps],
            "is_pesticide": [a.is_pesticide for a in apps],
            "registration_no": [a.product.registration_no if a.product else None for a in apps],
            "registration_status": [
                a.product.registration_status if a.product else None for a in apps
            ],
            "active_ingredient": [a.product.active_ingredient if a.product else None for a in apps],
            "max_dose_per_ha": [a.product.max_dose_per_ha if a.product else None for a in apps],
            "phi_days": [a.product.phi_days if a.product else None for a in apps],
            "amount": pd.array([a.quantity for a in apps], dtype="Float64"),
            "unit": [a.unit or "" for a in apps],
            "amount_of": ["product" if a.in_product_unit else "tank mix" for a in apps],
            "treated_area_ha": pd.array([a.area_ha for a in apps], dtype="Float64"),
            "dose_per_ha": pd.array([a.dose_per_ha for a in apps], dtype="Float64"),
            "source": ["drone" if a.method == "drone" else "hand" for a in apps],
            "drone_code": [a.drone_code for a in apps],
            "mission_id": [a.mission_id for a in apps],
            "entry_id": pd.array([a.entry_id for a in apps], dtype="Int64"),
            "coverage_pct": pd.array([a.coverage_pct for a in apps], dtype="Float64"),
        }
    )
    if seasons is not None:
        frame["season_id"] = pd.array(seasons, dtype="int64")
    frame = frame.join(fields, on="field_id")
    frame["drone_organisation"] = frame["drone_code"].map(orgs)
    keep = pd.Series(True, index=frame.index)
    if filters.commune:
        keep &= frame["commune_code"] == filters.commune
    if filters.drone:
        keep &= frame["drone_code"] == filters.drone
    if filters.organisation:
        keep &= (frame["drone_organisation"] == filters.organisation) | (
            frame["farmer_organisation"] == filters.organisation
        )
    return frame[keep].reset_index(drop=True)


_APPLICATION_COLUMNS = [
    "field_code",
    "commune_code",
    "product_code",
    "source",
    "amount",
    "unit",
    "amount_of",
    "treated_area_ha",
    "applications",
]


@connected
def field_applications_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Per field, product and source: how much was applied, in which unit, and how often.

    Built on the application record (the diary's corrected view, drone missions with
    their diary lines counted once). ``amount`` is in the product's own ``unit``
    (``amount_of`` "product"), except for a drone spray whose tank mix was not
    reported: that is litres of tank mix (``amount_of`` "tank mix"), never added to
    product amounts.
    """
    frame = applications_in(conn, filters)
    if frame.empty:
        return pd.DataFrame(columns=_APPLICATION_COLUMNS)
    keys = ["field_code", "commune_code", "product_code", "source", "unit", "amount_of"]
    grouped = frame.groupby(keys, as_index=False, dropna=False).agg(
        amount=("amount", lambda s: s.sum(min_count=1)),
        treated_area_ha=("treated_area_ha", lambda s: s.sum(min_count=1)),
        applications=("amount", "size"),
    )
    return grouped[_APPLICATION_COLUMNS].sort_values(
        ["field_code", "product_code", "source", "amount_of"], ignore_index=True
    )
