"""Simulated fleet -> embedded broker -> ingester -> measured missions; and the whole demo."""

import math
import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from drone_ingest.broker import EmbeddedBroker
from drone_ingest.simulate import run_simulation
from tests.mqtt import free_port, ingester, wait_until
from traceability.models import DiaryEntry, Lot, Mission, MissionStatus, TelemetryPoint, User
from traceability.services.fixtures import FIXTURES_DIR, load_fixtures
from traceability.services.missions import get_mission

FIELDS = ["GR-0001", "GR-0002", "GR-0003", "GR-0004"]
_TABLES = (User, DiaryEntry, Mission, Lot, TelemetryPoint)


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker


def _measured(engine: Engine, ids: list[str]) -> bool:
    with Session(engine) as s:
        n = s.exec(
            select(func.count())
            .select_from(Mission)
            .where(
                Mission.mission_id.in_(ids),
                Mission.status == MissionStatus.complete,
                Mission.dirty.is_(False),
                Mission.measured_at.is_not(None),
            )
        ).one()
    return n[0] == len(ids)


def _stored(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(TelemetryPoint)).one()[0]


def test_simulated_fleet_is_ingested_and_measured_as_flown(db, embedded):
    with Session(db) as session:
        load_fixtures(session, directory=FIXTURES_DIR)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    ing = ingester(embedded.url, db, prefix)
    try:
        out = run_simulation(
            drones=2,
            rate=1.0,
            duration=math.inf,
            mqtt_url=embedded.url,
            speedup=math.inf,
            prefix=prefix,
            missions_per_drone=1,
            fields=FIELDS,
            types=["fertilize", "seed"],
            link_loss_prob=1.0,  # every mission uploads a batch after a link loss
            duplicate_prob=0.02,
            overspray_prob=0.0,
        )
        ids = [m["mission_id"] for m in out["missions"]]
        assert len(ids) == 2 and out["batches"] >= 2 and out["duplicates"] > 0
        assert out["unacknowledged"] == 0
        # amqtt may hand over an end event before the last fixes (its deliveries are
        # concurrent tasks): wait for every fix, then for the measurement that follows it.
        wait_until(lambda: _stored(db) == out["points"], timeout=60, what="every fix stored")
        wait_until(lambda: _measured(db, ids), timeout=60, what="both missions measured")
    finally:
        ing.stop()

    with Session(db) as session:
        for flown in out["missions"]:
            mission = get_mission(session, mission_id=flown["mission_id"])
            assert mission.status is MissionStatus.complete
            assert mission.drone_id == flown["drone_id"] and mission.type.value == flown["type"]
            # Exactly once: every fix stored, none twice, batches and duplicates included.
            assert mission.point_count == flown["points"]
            assert mission.amount_unit.value == "kg" == flown["amount_unit"]
            assert mission.applied_amount == pytest.approx(flown["applied_amount"], rel=1e-3)
            assert mission.treated_area_ha == pytest.approx(flown["sprayed_area_ha"], rel=0.03)
            assert mission.overspray_area_ha < 0.01 * mission.treated_area_ha
            assert {f.field_code for f in mission.fields} == set(flown["field_codes"])
            for f in mission.fields:
                assert f.coverage_pct > 95.0, f"{f.field_code}: {f.coverage_pct:.1f}%"
    assert _stored(db) == out["points"]


def test_demo_sets_up_flies_harvests_and_serves_the_trace(tmp_path):
    from agritrace.demo import DemoConfig, run_demo
    from traceability.api.main import create_app
    from traceability.config import Settings
    from traceability.db import make_engine

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    config = DemoConfig(
        database_url=url,
        port=free_port(),
        drones=2,
        speed=math.inf,
        day=False,
        serve_forever=False,
        public_base_url="http://192.0.2.7:8000",
    )
    result = run_demo(config, console=Console(quiet=True), stop_event=threading.Event())
    assert len(result.mission_ids) == 2 and result.missions_complete == 2
    assert len(result.lots) == 2 and result.milled_lot
    assert result.admin_token and result.farmer_token

    engine = make_engine(url)
    app = create_app(
        settings=Settings(database_url=url, public_base_url=config.base_url), engine=engine
    )
    with TestClient(app) as client:
        trace = client.get(f"/api/v1/trace/{result.lots[0]}")
        assert trace.status_code == 200, trace.text
        body = trace.json()
        assert body["lot"]["gtin"]
        assert len(body["events"]) >= 5  # four diary entries per field, and the drone
        assert any(mid in trace.text for mid in result.mission_ids), (
            "the drone mission is not in the trace"
        )
        milled = client.get(f"/api/v1/trace/{result.milled_lot}")
        assert milled.status_code == 200
        # The demo's cooperative is the producer, certified on the day of the harvest.
        national = milled.json()["national"]
        assert [p["code"] for p in national["producers"]] == ["HTX-DEMO"]
        assert national["brand"] == "Gạo ST25 Giá Rai" and national["shelf_life_days"] == 365
        assert national["standards"][0]["certificate_no"] == "VG-DEMO-2026-001"
        assert national["standards"][0]["valid_on_harvest"] is True
        # The QR code carries the public base URL the demo was given.
        svg = client.get(f"/api/v1/lots/{result.lots[1]}/qr.svg")
        assert svg.headers["content-type"].startswith("image/svg")
        admin = {"Authorization": f"Bearer {result.admin_token}"}
        me = client.get("/api/v1/me", headers=admin)
        assert me.status_code == 200 and me.json()["role"] == "admin"
        mission = client.get(f"/api/v1/missions/{result.mission_ids[0]}", headers=admin).json()
        assert mission["status"] == "complete" and mission["treated_area_ha"] > 0
        # Every season plans its harvest (sown 100 days ago, harvest planned in 10), so a
        # farmer's PHI warnings have a day to be held against.
        seasons = client.get("/api/v1/seasons", headers=admin).json()["data"]
        planned = {s["planned_harvest_on"] for s in seasons}
        assert seasons and planned == {(date.today() + timedelta(days=10)).isoformat()}

    # Run again on the same database: it resumes, nothing is flown or written twice.
    with Session(engine) as s:
        before = {t: s.exec(select(func.count()).select_from(t)).one()[0] for t in _TABLES}
    again = run_demo(
        DemoConfig(**{**config.__dict__, "port": free_port()}),
        console=Console(quiet=True),
        stop_event=threading.Event(),
    )
    assert not again.flew and sorted(again.mission_ids) == sorted(result.mission_ids)
    assert again.admin_token != result.admin_token  # a fresh token for the same user
    with Session(engine) as s:
        after = {t: s.exec(select(func.count()).select_from(t)).one()[0] for t in _TABLES}
    assert after == before
    engine.dispose()
