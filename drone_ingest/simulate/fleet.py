"""The fleet, the fields it serves and the no-spray zones, from fixtures or the database."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from drone_ingest.simulate.specs import DroneSpec, ProductSpec

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures"


def load_fleet(
    *, engine=None, directory: Path = FIXTURES_DIR
) -> tuple[list[DroneSpec], list[list[tuple[str, BaseGeometry]]], list[ProductSpec]]:
    """Drones, groups of neighbouring fields (one farmer's plots) and products.

    From the database when ``engine`` is given (what the ingester will measure against),
    else from the fixture files.
    """
    if engine is not None:
        return _fleet_from_db(engine)
    drones = [DroneSpec.of(d) for d in json.loads((directory / "drones.json").read_text("utf-8"))]
    products = [
        ProductSpec.of(p) for p in json.loads((directory / "inputs.json").read_text("utf-8"))
    ]
    collection = json.loads((directory / "fields.geojson").read_text("utf-8"))
    by_owner: dict[str, list[tuple[str, BaseGeometry]]] = defaultdict(list)
    for feature in collection["features"]:
        props = feature["properties"]
        owner = str(props.get("farmer_code") or props.get("farmer_id") or props["code"])
        by_owner[owner].append((props["code"], shape(feature["geometry"])))
    groups = [sorted(by_owner[k], key=lambda f: f[0]) for k in sorted(by_owner)]
    return drones, groups, products


def load_zones(*, engine=None, directory: Path = FIXTURES_DIR) -> list[tuple[BaseGeometry, float]]:
    """No-spray zones (canals, ponds, houses) with their buffers, from the database or fixtures."""
    if engine is not None:
        from sqlmodel import Session, select

        from traceability.models import NoSprayZone

        with Session(engine) as session:
            rows = session.exec(select(NoSprayZone.geometry, NoSprayZone.buffer_m)).all()
        return [(shape(g), float(b or 0.0)) for g, b in rows]
    path = directory / "zones.geojson"
    if not path.exists():
        return []
    features = json.loads(path.read_text("utf-8"))["features"]
    return [(shape(f["geometry"]), float(f["properties"].get("buffer_m") or 0.0)) for f in features]


def near_zones(zones: list[tuple[BaseGeometry, float]], group: list[tuple[str, BaseGeometry]]):
    # Degrees are fine for a coarse pre-filter: 0.002 degrees is about 200 m here.
    area = shapely.union_all([g for _, g in group]).buffer(0.002)
    return [(z, b) for z, b in zones if z.intersects(area)]


def _fleet_from_db(engine):
    from sqlmodel import Session, select

    from traceability.models import Drone, FarmField, InputProduct

    with Session(engine) as session:
        drones = [
            DroneSpec(
                code=d.code,
                swath_m=d.swath_m or 10.0,
                tank_capacity=d.tank_capacity or 40.0,
                model=d.model,
            )
            for d in session.exec(select(Drone).order_by(Drone.code)).all()
        ]
        products = [
            ProductSpec(
                code=p.code, kind=str(p.kind), unit=str(p.unit), max_dose_per_ha=p.max_dose_per_ha
            )
            for p in session.exec(select(InputProduct).order_by(InputProduct.code)).all()
        ]
        by_owner: dict[int, list[tuple[str, BaseGeometry]]] = defaultdict(list)
        for f in session.exec(select(FarmField).order_by(FarmField.code)).all():
            by_owner[f.farmer_id].append((f.code, shape(f.geometry)))
    groups = [by_owner[k] for k in sorted(by_owner)]
    return drones, groups, products
