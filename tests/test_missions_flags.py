"""A mission's flags decided from a measured result built by hand: no database, no geometry."""

import pytest

from traceability import geo
from traceability.config import Settings
from traceability.models import InputKind, InputProduct, Mission, MissionType, Unit
from traceability.services.missions import flags
from traceability.services.missions.flags import FlagCode, mission_flags
from traceability.services.missions.result import Measured

SETTINGS = Settings(
    _env_file=None,
    overspray_flag_pct=5.0,
    nospray_flag_min_m2=2.0,
    reported_mismatch_pct=15.0,
    max_gap_s=30.0,
    mission_idle_close_s=3600.0,
)
ZONES = {"Z1": ("canal", "Kênh 1", 5.0), "Z2": ("house", None, 10.0)}


def product(max_dose: float | None = 0.8, unit: Unit = Unit.L) -> InputProduct:
    return InputProduct(
        code="P1", name="Product", kind=InputKind.pesticide, unit=unit, max_dose_per_ha=max_dose
    )


def mission(**kw) -> Mission:
    values = {"mission_id": "M1", "drone_code": "D1", "type": MissionType.spray}
    values["product_code"] = "P1"
    return Mission(**(values | kw))


def field(key: int, treated_m2: float, amount: float) -> geo.FieldApplication:
    dose = amount / (treated_m2 / 10_000) if treated_m2 else None
    return geo.FieldApplication(key, 20_000.0, treated_m2, 100 * treated_m2 / 20_000, amount, dose)


def measured(
    *,
    fields=(),
    zones=(),
    sprayed_m2: float = 10_000.0,
    overspray_m2: float = 0.0,
    applied: float | None = None,
    outside: float = 0.0,
    skipped: int = 0,
    per_unit: float | None = 0.05,
) -> Measured:
    fields = list(fields)
    applied = sum(f.applied_amount for f in fields) + outside if applied is None else applied
    app = geo.Application(
        sprayed_area_m2=sprayed_m2,
        treated_area_m2=sum(f.treated_area_m2 for f in fields),
        overspray_area_m2=overspray_m2,
        overlap_area_m2=0.0,
        applied_amount=applied,
        amount_outside_fields=outside,
        fields=fields,
        zones=list(zones),
        footprint_wgs84=None,
        epsg=32648,
        skipped_stretches=skipped,
    )
    return Measured.of(
        app,
        unit=Unit.L,
        per_unit=per_unit,
        field_codes={1: "F1", 2: "F2", 3: "F3"},
        zone_info=ZONES,
    )


def json_flags(**kw) -> list[dict]:
    args = {"mission": mission(), "product": product(), "settings": SETTINGS} | kw
    return flags.to_json(mission_flags(**args))


def test_a_clean_mission_has_no_flags():
    # 1 ha of F1 got 10 L of tank mix at 0.05 L of product per litre: 0.5 L/ha, 0.8 allowed.
    assert json_flags(measured=measured(fields=[field(1, 10_000.0, 10.0)])) == []


def test_dose_above_max_per_field_in_the_products_unit():
    # F1: 20 L of mix on 1 ha = 20 L/ha x 0.05 = 1.0 L/ha of P1; F2: 12 L on 2 ha = 0.3 L/ha.
    m = measured(fields=[field(1, 10_000.0, 20.0), field(2, 20_000.0, 12.0)], sprayed_m2=30_000)
    assert json_flags(measured=m) == [
        {
            "code": "dose_above_max",
            "field_code": "F1",
            "dose_per_ha": 1.0,
            "max_dose_per_ha": 0.8,
            "message": "1 L/ha of P1 on F1 is above the 0.8 L/ha allowed",
        }
    ]
    # No maximum in the catalogue: nothing to hold the dose against.
    assert json_flags(measured=m, product=product(max_dose=None)) == []


@pytest.mark.parametrize(
    ("dose", "flagged"),
    [(100.0, False), (100.02, False), (100.49, False), (100.5, True), (101.0, True)],
)
def test_a_dose_is_over_the_label_only_at_the_label_s_precision(dose, flagged):
    # 1 ha, product straight from the drone (1 kg per kg): the dose is the amount.
    m = measured(fields=[field(1, 10_000.0, dose)], per_unit=1.0)
    out = json_flags(measured=m, product=product(max_dose=100.0, unit=Unit.kg))
    assert ("dose_above_max" in {f["code"] for f in out}) is flagged


def test_product_dose_unknown_without_a_tank_mix():
    m = measured(fields=[field(1, 10_000.0, 20.0)], per_unit=None)
    assert json_flags(measured=m) == [
        {
            "code": "product_dose_unknown",
            "message": "the start event gave no tank_mix: 20 L of spray left the drone, but how "
            "much P1 it held, and so its dose against the 0.8 L/ha allowed, is not known",
        }
    ]


def test_nospray_zone_flag_above_the_noise_threshold_only():
    m = measured(
        fields=[field(1, 10_000.0, 10.0)],
        zones=[geo.ZoneHit("Z1", 12.5, 0.25), geo.ZoneHit("Z2", 1.5, 0.03)],
    )
    assert json_flags(measured=m) == [
        {
            "code": "nospray_zone",
            "zone_code": "Z1",
            "kind": "canal",
            "name": "Kênh 1",
            "buffer_m": 5.0,
            "area_ha": 0.00125,
            "amount": 0.25,
            "message": "sprayed 12.5 m² inside canal Z1 (within its 5 m buffer)",
        }
    ]
    # Both zones are listed on the mission, the grazed one included.
    assert [z.to_json()["zone_code"] for z in m.zones] == ["Z1", "Z2"]
    assert m.zones[1].to_json() == {
        "zone_code": "Z2",
        "kind": "house",
        "name": None,
        "buffer_m": 10.0,
        "area_ha": 0.00015,
        "amount": 0.03,
    }


def test_overspray_no_fields_and_gaps():
    # 1 ha sprayed, 0.1 ha of it outside every field: 10 % > 5 %.
    m = measured(fields=[field(1, 9_000.0, 9.0)], overspray_m2=1_000.0, outside=1.0, skipped=3)
    assert json_flags(measured=m) == [
        {
            "code": "overspray",
            "overspray_area_ha": 0.1,
            "overspray_pct": 10.0,
            "amount_outside_fields": 1.0,
            "message": "10.0 % of the sprayed area is outside every registered field "
            "(threshold 5 %)",
        },
        {
            "code": "gaps",
            "skipped_stretches": 3,
            "message": "3 applicator-on stretch(es) were not counted: gaps over 30 s or "
            "impossible jumps between fixes",
        },
    ]
    # Exactly at the threshold is not over it.
    at = measured(fields=[field(1, 9_500.0, 9.0)], overspray_m2=500.0, outside=0.5)
    assert json_flags(measured=at) == []
    nothing_on_fields = measured(overspray_m2=10_000.0, outside=4.0)
    assert [f["code"] for f in json_flags(measured=nothing_on_fields)] == ["overspray", "no_fields"]
    assert json_flags(measured=nothing_on_fields)[1] == {
        "code": "no_fields",
        "message": "nothing fell on a registered field",
    }


def test_reported_figures_against_the_measured_ones():
    m = measured(fields=[field(1, 10_000.0, 10.0)])
    # 1.1 ha reported for 1 ha measured is 10 % off (within 15 %); 1.2 L for 10 L is 88 %.
    assert json_flags(measured=m, mission=mission(reported_area_ha=1.1, reported_amount=1.2)) == [
        {
            "code": "reported_amount_mismatch",
            "reported_amount": 1.2,
            "measured_amount": 10.0,
            "message": "the drone reported 1.2 L, 10.000 L were measured from the flow",
        }
    ]
    assert json_flags(measured=m, mission=mission(reported_area_ha=1.5)) == [
        {
            "code": "reported_area_mismatch",
            "reported_area_ha": 1.5,
            "measured_area_ha": 1.0,
            "message": "the drone reported 1.5 ha, 1.000 ha were measured",
        }
    ]
    # Nothing measured: any amount reported is infinitely off, none reported is not.
    empty = measured(sprayed_m2=0.0)
    assert [
        f["code"] for f in json_flags(measured=empty, mission=mission(reported_amount=0.0))
    ] == []
    reported = json_flags(measured=empty, mission=mission(reported_amount=2.0))
    assert [f["code"] for f in reported] == ["reported_amount_mismatch"]


def test_the_missions_own_record():
    idle = mission(end_reason="idle", product_code="NOPE")
    assert json_flags(measured=None, mission=idle, product=None) == [
        {
            "code": "no_end_event",
            "message": "no end event came: the mission was completed at its last fix after "
            "3600 s without new points",
        },
        {
            "code": "unknown_product",
            "product_code": "NOPE",
            "message": "product 'NOPE' is not in the input catalogue",
        },
    ]
    no_start = mission(product_code=None, type=None)
    assert json_flags(measured=None, mission=no_start, product=None) == [
        {
            "code": "unknown_product",
            "product_code": None,
            "message": "no start event: the product is not known",
        }
    ]
    # A typed mission that named no product is not flagged.
    assert json_flags(measured=None, mission=mission(product_code=None), product=None) == []


def test_flags_come_in_one_order_with_code_first_and_message_last():
    m = measured(
        fields=[field(1, 5_000.0, 20.0)],
        zones=[geo.ZoneHit("Z1", 30.0, 0.1)],
        overspray_m2=5_000.0,
        outside=5.0,
        skipped=1,
    )
    out = json_flags(
        measured=m,
        mission=mission(end_reason="idle", reported_area_ha=3.0, reported_amount=99.0),
    )
    codes = [f["code"] for f in out]
    assert codes == [
        "no_end_event",
        "dose_above_max",
        "nospray_zone",
        "overspray",
        "gaps",
        "reported_area_mismatch",
        "reported_amount_mismatch",
    ]
    assert codes == [c.value for c in FlagCode if c.value in codes]
    assert all(list(f)[0] == "code" and list(f)[-1] == "message" for f in out)
    # F1: 20 L on 0.5 ha = 40 L/ha of mix x 0.05 = 2 L/ha of product.
    assert out[1]["dose_per_ha"] == 2.0


def test_measure_failed_keeps_the_reason_short():
    assert flags.MeasureFailed.of(ValueError("bad swath")).to_json() == {
        "code": "measure_failed",
        "message": "ValueError: bad swath",
    }
    assert len(flags.MeasureFailed.of(RuntimeError("x" * 900)).message) == 500
