"""Load the fixture slice of the province: farmers, fields, no-spray zones, fleet, products.

Loading is idempotent: records whose code already exists are left as they are,
so the demo can be started again on the same database.
"""

from pathlib import Path
from typing import Any

import orjson
from sqlmodel import Session, select

from traceability.errors import InvalidInput
from traceability.models import (
    Drone,
    DroneCreate,
    Farmer,
    FarmerCreate,
    FarmField,
    InputProduct,
    InputProductCreate,
)
from traceability.services import fields as field_svc

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures"


def _read(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read fixture {path}: {exc}") from exc


def _existing(session: Session, column) -> set[str]:
    return set(session.exec(select(column)).all())


def load_fixtures(
    session: Session, *, directory: Path = FIXTURES_DIR, progress=None
) -> dict[str, int]:
    """Load every fixture file found in ``directory``; returns how many of each were added."""
    counts: dict[str, int] = {}

    def track(what: str, total: int):
        if progress is None:
            return lambda n: None
        task = progress.add_task(f"loading {what}", total=total)
        return lambda n: progress.advance(task, n)

    farmers = _read(directory / "farmers.json")
    known = _existing(session, Farmer.code)
    new = [
        Farmer(**FarmerCreate(**f).model_dump(exclude={"organisation_code"}))
        for f in farmers
        if f["code"] not in known
    ]
    session.add_all(new)
    session.commit()
    counts["farmers"] = len(new)
    farmer_ids = dict(session.exec(select(Farmer.code, Farmer.id)).all())

    products = _read(directory / "inputs.json")
    known = _existing(session, InputProduct.code)
    new = [
        InputProduct(**InputProductCreate(**p).model_dump())
        for p in products
        if p["code"] not in known
    ]
    session.add_all(new)
    session.commit()
    counts["input products"] = len(new)

    drones = _read(directory / "drones.json")
    known = _existing(session, Drone.code)
    fields_of_drone = DroneCreate.model_fields
    new = [
        Drone(
            **DroneCreate(**{k: v for k, v in d.items() if k in fields_of_drone}).model_dump(
                exclude={"organisation_code"}
            )
        )
        for d in drones
        if d["code"] not in known
    ]
    session.add_all(new)
    session.commit()
    counts["drones"] = len(new)

    collection = _read(directory / "fields.geojson")
    known = _existing(session, FarmField.code)
    features = []
    for feature in collection["features"]:
        props = dict(feature["properties"])
        if props["code"] in known:
            continue
        props["farmer_id"] = farmer_ids[props.pop("farmer_code")]
        features.append({**feature, "properties": props})
    rows = field_svc.import_fields(
        session, features=features, progress=track("fields", len(features))
    )
    counts["fields"] = len(rows)

    zones_path = directory / "zones.geojson"
    if zones_path.exists():
        from traceability.services import zones

        collection = _read(zones_path)
        counts["no-spray zones"] = zones.load_zones(session, features=collection["features"])
    return counts
