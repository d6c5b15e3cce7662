"""The simulated fleet: flight model and delivery plan, without a broker."""

import math
import random
from datetime import UTC, datetime

import orjson
import pytest
from shapely.geometry import LineString, box

from drone_ingest.simulate import (
    DroneSpec,
    ProductSpec,
    flight_points,
    fly_mission,
    lawnmower_passes,
    load_fleet,
    mission_deliveries,
)
from tests.factories import rectangle_lonlat
from traceability.geo import measure_application, to_metres
from traceability.ingest.contract import MissionEndIn, MissionStartIn, TelemetryIn

T0 = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
T40 = DroneSpec(code="BL-DR-001", swath_m=11.0, tank_capacity=40.0, spreader_capacity_kg=50.0)
FUJI = ProductSpec(code="FUJIONE40EC", kind="pesticide", unit="L", max_dose_per_ha=1.5)
UREA = ProductSpec(code="UREA46", kind="fertilizer", unit="kg", max_dose_per_ha=150.0)
SEED = ProductSpec(code="SEED-ST25", kind="seed", unit="kg", max_dose_per_ha=100.0)
WIRE_KEYS = {
    "mission_id", "seq", "ts", "lat", "lon", "alt_m", "speed_mps", "heading_deg", "spraying",
    "flow_lpm", "flow_kgpm", "swath_m", "tank_remaining", "battery_pct",
}  # fmt: skip


@pytest.fixture(scope="module")
def fleet():
    return load_fleet()


@pytest.fixture(scope="module")
def group(fleet):
    """A farmer's neighbouring fixture fields (the first with three plots)."""
    _drones, groups, _products = fleet
    return next(g for g in groups if len(g) == 3)


def measure(mission, fields, **kw):
    pts = mission.points
    key = "flow_lpm" if mission.type == "spray" else "flow_kgpm"
    return measure_application(
        lon=[p["lon"] for p in pts],
        lat=[p["lat"] for p in pts],
        t=mission.times,
        spraying=[p["spraying"] for p in pts],
        rate=[p.get(key, 0.0) for p in pts],
        swath_m=[p.get("swath_m") or math.nan for p in pts],
        fields=fields,
        **kw,
    )


def test_fixture_fleet_loads(fleet):
    drones, groups, products = fleet
    assert len(drones) == 86
    assert sum(len(g) for g in groups) >= 400
    assert {p.mission_type for p in products} == {"spray", "fertilize", "seed"}


def test_lawnmower_passes_tile_a_rectangle_along_its_long_axis():
    passes, spacing = lawnmower_passes(box(0, 0, 300, 35), 11.0)
    assert len(passes) == 4 and spacing == pytest.approx(8.75)
    for k, p in enumerate(passes):
        (x0, y0), (x1, y1) = p.coords[0], p.coords[-1]
        assert y0 == pytest.approx(y1) == pytest.approx((k + 0.5) * 8.75)
        assert {round(x0), round(x1)} == {0, 300}
        assert (x1 > x0) == (k % 2 == 0), "passes must alternate in direction"
    # A field narrower than the swath gets one pass down its middle.
    passes, spacing = lawnmower_passes(box(0, 0, 8, 200), 11.0)
    assert len(passes) == 1 and spacing == pytest.approx(8.0)
    assert passes[0].coords[0][0] == pytest.approx(4.0)


def test_lawnmower_splits_a_pass_across_a_notch():
    notch = box(100, 0, 200, 12)
    passes, _ = lawnmower_passes(box(0, 0, 300, 30).difference(notch), 10.0)
    assert len(passes) == 4  # the lowest pass is cut in two by the notch
    assert all(p.intersection(notch).length < 1e-6 for p in passes)
    # A pass running exactly along an edge of the notch is still one pass.
    passes, _ = lawnmower_passes(box(0, 0, 300, 30).difference(box(100, 0, 200, 15)), 10.0)
    assert len(passes) == 4


@pytest.mark.parametrize("product", [FUJI, UREA, SEED], ids=["spray", "fertilize", "seed"])
def test_mission_covers_its_fixture_fields(group, product):
    mission = fly_mission(group, drone=T40, product=product, start_ts=T0, rng=random.Random(3))
    result = measure(mission, group)
    assert mission.field_codes == [code for code, _ in group]
    for f in result.fields:
        assert f.coverage_pct > 98.0, f"{f.key} only {f.coverage_pct:.1f}% covered"
    field_area = sum(f.field_area_ha for f in result.fields)
    assert result.overspray_area_ha < 0.01 * field_area
    # What the ingester integrates is what the drone says it released.
    assert result.applied_amount == pytest.approx(mission.applied_amount, rel=1e-9)
    assert mission.end["reported_area_ha"] == pytest.approx(result.treated_area_ha, rel=0.05)
    assert mission.end["reported_amount"] == pytest.approx(mission.applied_amount, rel=0.05)


def test_rectangle_is_covered_edge_to_edge():
    field = rectangle_lonlat(0, 0, 47.0, 320.0)
    mission = fly_mission(
        [("F", field)], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(1)
    )
    result = measure(mission, [("F", field)])
    assert result.fields[0].coverage_pct > 99.9
    assert result.overspray_area_ha < 1e-4
    assert result.overlap_area_ha < 1e-4, "passes must not double-spray strips"


@pytest.mark.parametrize(
    ("product", "low", "high"),
    [(FUJI, 15, 25), (UREA, 80, 120), (SEED, 85, 115)],
    ids=["L", "urea", "seed"],
)
def test_doses_speeds_and_heights_are_realistic(group, product, low, high):
    mission = fly_mission(group, drone=T40, product=product, start_ts=T0, rng=random.Random(9))
    result = measure(mission, group)
    for f in result.fields:
        assert low <= f.dose_per_ha <= high
    on = [p for p in mission.points if p["spraying"]]
    assert all(5.0 <= p["speed_mps"] <= 7.0 for p in on)
    assert all(1.8 <= p["alt_m"] <= 3.2 for p in on)
    assert all(p["swath_m"] <= T40.swath_m for p in on)
    assert max(p["speed_mps"] for p in mission.points) <= 8.0


def test_applicator_is_off_in_turns_and_outside_the_field(group):
    mission = fly_mission(group, drone=T40, product=FUJI, start_ts=T0, rng=random.Random(4))
    polys = [to_metres(g, 32648)[0].buffer(0.5) for _, g in group]
    xy = list(zip(mission.x, mission.y, strict=True))
    runs = 0
    for i, p in enumerate(mission.points[:-1]):
        if not p["spraying"]:
            continue
        stretch = LineString([xy[i], xy[i + 1]])
        assert any(poly.contains(stretch) for poly in polys), (
            f"fix {p['seq']} sprays outside a field"
        )
        if i == 0 or not mission.points[i - 1]["spraying"]:
            runs += 1
    passes = sum(len(lawnmower_passes(to_metres(g, 32648)[0], T40.swath_m)[0]) for _, g in group)
    # One run per pass, plus one more each time a refill interrupts a pass.
    assert passes <= runs <= passes + mission.refills
    assert not mission.points[-1]["spraying"]


def test_tank_empties_then_refills_and_battery_drains(group):
    mission = fly_mission(group, drone=T40, product=UREA, start_ts=T0, rng=random.Random(5))
    assert mission.refills >= 3
    tank = [p["tank_remaining"] for p in mission.points]
    assert min(tank) >= 0.0 and max(tank) <= 50.0
    refills = [i for i in range(1, len(tank)) if tank[i] > tank[i - 1] + 1e-6]
    assert len(refills) == mission.refills
    for i in refills:
        assert tank[i - 1] < 0.5, "refilled before the hopper was empty"
        assert not mission.points[i]["spraying"]
    airborne = [p for p in mission.points[:40] if p["speed_mps"] > 0]
    assert airborne[-1]["battery_pct"] < airborne[0]["battery_pct"]
    assert all(5.0 <= p["battery_pct"] <= 100.0 for p in mission.points)


def test_payloads_match_the_wire_contract(group):
    for product, flow_key in ((FUJI, "flow_lpm"), (UREA, "flow_kgpm")):
        mission = fly_mission(
            group[:1], drone=T40, product=product, start_ts=T0, rng=random.Random(2)
        )
        start = MissionStartIn.model_validate(mission.start)
        assert start.type.value == mission.type == product.mission_type
        assert start.product_code == product.code
        assert start.planned_field_codes == [group[0][0]]
        end = MissionEndIn.model_validate(mission.end)
        assert end.ts > start.ts
        for p in mission.points:
            assert set(p) <= WIRE_KEYS
            TelemetryIn.model_validate(p)
            if p["spraying"]:
                assert p[flow_key] > 0
        assert not any("flow_lpm" in p and "flow_kgpm" in p for p in mission.points)
        assert mission.points[0]["ts"].endswith("Z")


def test_seq_and_time_increase_within_and_across_missions(group):
    first = fly_mission(
        group[:1], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(6), seq_start=100
    )
    nxt_start = datetime.fromtimestamp(first.ended_at + 30, UTC)
    second = fly_mission(
        group[1:2],
        drone=T40,
        product=FUJI,
        start_ts=nxt_start,
        rng=random.Random(7),
        seq_start=first.points[-1]["seq"] + 1,
    )
    seqs = [p["seq"] for p in first.points + second.points]
    assert seqs == list(range(100, 100 + len(seqs)))
    times = list(first.times) + list(second.times)
    assert all(b > a for a, b in zip(times, times[1:], strict=False))


def test_same_seed_flies_the_same_mission(group):
    a = flight_points(group[0][1], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(11))
    b = flight_points(group[0][1], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(11))
    c = flight_points(group[0][1], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(12))
    assert a == b
    assert a != c


def test_link_loss_is_delivered_later_as_one_valid_array(group):
    mission = fly_mission(group[:2], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(8))
    deliveries = mission_deliveries(
        mission, rng=random.Random(1), link_loss_prob=1.0, duplicate_prob=0.02
    )
    assert deliveries[0].what == "start" and deliveries[-1].what == "end"
    assert [d.at for d in deliveries] == sorted(d.at for d in deliveries)
    batches = [d for d in deliveries if d.what == "batch"]
    assert len(batches) == 1
    batch = batches[0]
    wire = orjson.loads(orjson.dumps(batch.payload))
    assert isinstance(wire, list) and len(wire) >= 10
    for p in wire:
        TelemetryIn.model_validate(p)
        assert batch.at > datetime.fromisoformat(p["ts"]).timestamp(), (
            "a batch is sent after its fixes"
        )
    singles = [d.payload for d in deliveries if d.what == "point"]
    delivered = {p["seq"] for p in singles} | {p["seq"] for p in wire}
    assert delivered == {p["seq"] for p in mission.points}
    assert not {p["seq"] for p in singles} & {p["seq"] for p in wire}
    dups = [d for d in deliveries if d.what == "duplicate"]
    assert dups, "2 % of ~1000 fixes should give some duplicates"
    by_seq = {p["seq"]: p for p in mission.points}
    assert all(d.payload == by_seq[d.payload["seq"]] for d in dups)


def test_no_link_loss_means_no_batches(group):
    mission = fly_mission(group[:1], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(8))
    deliveries = mission_deliveries(
        mission, rng=random.Random(1), link_loss_prob=0.0, duplicate_prob=0.0
    )
    assert [d.what for d in deliveries].count("point") == len(mission.points)
    assert {d.what for d in deliveries} == {"start", "point", "end"}


def test_overspray_sprays_a_little_beyond_the_field_edge():
    field = rectangle_lonlat(0, 0, 44.0, 300.0)
    clean = fly_mission([("F", field)], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(1))
    over = fly_mission(
        [("F", field)], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(1), overspray_m=6.0
    )
    assert over.overspray and not clean.overspray
    extra = measure(over, [("F", field)]).overspray_area_ha * 10_000
    assert 6.0 * 11.0 * 0.9 <= extra <= 6.0 * 11.0 * 1.1
    assert measure(clean, [("F", field)]).overspray_area_ha * 10_000 < 1.0


def test_truncated_mission_ends_where_it_stopped(group):
    mission = fly_mission(group, drone=T40, product=FUJI, start_ts=T0, rng=random.Random(2))
    cut = mission.started_at + 300.0
    short = mission.truncated(cut)
    assert short.aborted and len(short.points) < len(mission.points)
    assert short.times[-1] <= cut and short.ended_at == pytest.approx(cut, abs=1e-3)
    assert not short.points[-1]["spraying"]
    assert 0 < short.applied_amount < mission.applied_amount
    assert short.end["reported_amount"] == pytest.approx(short.applied_amount, rel=1e-3)
    MissionEndIn.model_validate(short.end)


def test_passes_keep_out_of_no_spray_zone_buffers():
    field = rectangle_lonlat(0, 0, 60.0, 300.0)
    canal = rectangle_lonlat(-20.0, 100.0, 100.0, 8.0)  # a canal across the field
    mission = fly_mission(
        [("F", field)],
        drone=T40,
        product=FUJI,
        start_ts=T0,
        rng=random.Random(1),
        keep_out=[(canal, 5.0)],
    )
    result = measure(mission, [("F", field)], zones=[("Z", canal, 5.0)])
    assert result.zones == [] or all(z.area_ha < 1e-4 for z in result.zones)
    kept_out = 60.0 * (8.0 + 2 * 5.0)  # the canal and its buffers on both sides
    treated_m2 = result.fields[0].treated_area_ha * 10_000
    assert treated_m2 == pytest.approx(60.0 * 300.0 - kept_out, rel=0.01)


def test_sprays_say_how_strong_the_tank_mix_is(group):
    spray = fly_mission(group[:1], drone=T40, product=FUJI, start_ts=T0, rng=random.Random(2))
    mix = spray.start["tank_mix"]
    assert mix["product_unit"] == "L"
    assert 0.6 * 1.5 <= mix["product_dose_per_ha"] <= 0.95 * 1.5
    strength = mix["product_dose_per_ha"] / spray.dose_per_ha
    assert mix["product_per_l"] == pytest.approx(strength, rel=1e-3)
    urea = fly_mission(group[:1], drone=T40, product=UREA, start_ts=T0, rng=random.Random(2))
    assert "tank_mix" not in urea.start
