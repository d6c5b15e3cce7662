"""Small factories for test records, built through the services."""

import itertools
from datetime import date, datetime

from pyproj import Transformer
from shapely.geometry import Polygon, mapping
from sqlmodel import Session

from traceability.models import (
    DiaryEntryCreate,
    DroneCreate,
    FarmerCreate,
    FieldCreate,
    InputProductCreate,
    LotCreate,
    OrganisationCreate,
    Role,
    SeasonCreate,
    UserCreate,
)
from traceability.services import catalog, diary, fields, lots, organisations, users

_UTM48_TO_WGS84 = Transformer.from_crs(32648, 4326, always_xy=True)
# A point in Giá Rai, Bạc Liêu, in UTM 48N metres.
ORIGIN_E, ORIGIN_N = 547_000.0, 1_021_000.0


def rectangle_lonlat(x0: float, y0: float, width: float, height: float) -> Polygon:
    """A ``width`` × ``height`` m rectangle at UTM 48N offset (x0, y0) from ORIGIN, in WGS84."""
    corners = [(x0, y0), (x0 + width, y0), (x0 + width, y0 + height), (x0, y0 + height)]
    return Polygon([_UTM48_TO_WGS84.transform(ORIGIN_E + x, ORIGIN_N + y) for x, y in corners])


def feature(code: str, farmer_id: int, polygon: Polygon, **props) -> dict:
    """A GeoJSON Feature for the fields API."""
    return {
        "type": "Feature",
        "geometry": mapping(polygon),
        "properties": {"code": code, "farmer_id": farmer_id, **props},
    }


class Factory:
    """Builders with sensible defaults; every call makes a new, unique record."""

    def __init__(self, session: Session):
        self.session = session
        self._n = itertools.count(1)

    def organisation(self, kind: str = "cooperative", **kw):
        n = next(self._n)
        data = {"code": f"ORG-{n:03d}", "name": f"HTX Thử {n}", "kind": kind} | kw
        return organisations.create_organisation(self.session, data=OrganisationCreate(**data))

    def farmer(self, *, organisation=None, **kw):
        n = next(self._n)
        data = {
            "name": f"Nguyễn Văn Thử {n}",
            "phone": f"09123456{n:02d}",
            "village": "Ấp Xóm Mới",
        } | kw
        return catalog.create_farmer(
            self.session,
            data=FarmerCreate(**data),
            organisation_id=organisation.id if organisation else None,
        )

    def field(self, *, farmer=None, code=None, x0=None, y0=0.0, width=100.0, height=200.0, **props):
        n = next(self._n)
        farmer = farmer or self.farmer()
        poly = rectangle_lonlat(x0 if x0 is not None else n * 500.0, y0, width, height)
        f = feature(code or f"GR-{n:04d}", farmer.id, poly, **props)
        return fields.create_field(self.session, feature=FieldCreate.model_validate(f))

    def input(self, **kw):
        n = next(self._n)
        data = {
            "code": f"P{n:03d}",
            "name": f"Thuốc {n}",
            "kind": "pesticide",
            "unit": "L",
            "phi_days": 14,
            "max_dose_per_ha": 1.0,
        } | kw
        return catalog.create_input(self.session, data=InputProductCreate(**data))

    def drone(self, *, organisation=None, **kw):
        n = next(self._n)
        data = {
            "code": f"BL-DR-{n:03d}",
            "model": "DJI Agras T40",
            "swath_m": 10.0,
            "tank_capacity": 40.0,
        } | kw
        return catalog.create_drone(
            self.session,
            data=DroneCreate(**data),
            organisation_id=organisation.id if organisation else None,
        )

    def season(self, field, **kw):
        data = {
            "field_code": field.code,
            "crop": "lúa",
            "variety": "ST25",
            "sown_on": date(2026, 1, 5),
        } | kw
        return fields.create_season(self.session, data=SeasonCreate(**data))

    def entry(self, field, **kw):
        data = {
            "field_code": field.code,
            "occurred_at": datetime.fromisoformat("2026-02-01T08:00:00+07:00"),
            "activity": "observe",
        } | kw
        return diary.append_entry(self.session, data=DiaryEntryCreate(**data))[0]

    def lot(self, *, fields_=(), parents=(), **kw):
        n = next(self._n)
        data = {
            "code": f"LOT-{n:04d}",
            "field_codes": [f.code for f in fields_],
            "parent_lots": [p.code for p in parents],
            "harvested_on": date(2026, 4, 10),
            "quantity_kg": 5000.0,
            "product_name": "Lúa ST25",
        } | kw
        return lots.create_lot(self.session, data=LotCreate(**data))

    def token(self, role: str, farmer=None, organisation=None, **kw) -> dict[str, str]:
        """Authorization headers of a new user with ``role``.

        An office, cooperative or operator user without an ``organisation`` gets a new
        one of the matching kind.
        """
        n = next(self._n)
        kind = organisations.KIND_OF_ROLE.get(Role(role))
        if organisation is None and kind is not None:
            organisation = self.organisation(kind)
        _user, token = users.create_user(
            self.session,
            data=UserCreate(
                name=f"user {n}",
                role=Role(role),
                farmer_id=farmer.id if farmer else None,
                organisation_code=organisation.code if organisation else None,
                **kw,
            ),
        )
        return {"Authorization": f"Bearer {token}"}
