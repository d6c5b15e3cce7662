"""The PHI verdict of a lot from diary entries and drone missions alike."""

import itertools
from datetime import date, datetime, timedelta

import pytest

from traceability.models import DiaryEntryCreate, Mission, MissionField
from traceability.services import diary
from traceability.services import trace as svc

HARVEST = date(2026, 4, 10)
_missions = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


def local(text: str) -> datetime:
    """A timestamp written in Bạc Liêu local time."""
    return datetime.fromisoformat(text + "+07:00")


def spray(factory, field, product, when: str, quantity: float = 1.5, area_ha: float | None = 1.5):
    """A spray entry written by hand in the field's diary."""
    return factory.entry(
        field,
        activity="spray",
        input_code=product.code if product else None,
        quantity=quantity,
        unit=None if product else "L",
        area_ha=area_ha,
        occurred_at=local(when),
    )


def make_mission(
    session,
    *,
    field,
    product=None,
    product_code=None,
    at: datetime,
    kind: str = "spray",
    with_diary: bool = True,
    operator_id: str | None = None,
    status: str = "complete",
    product_per_l: float | None = None,
) -> Mission:
    """A measured drone mission over ``field``, stored the way the ingester stores one.

    With ``with_diary`` the mission also writes its drone line in the field's diary,
    as a completed mission does.
    """
    code = product.code if product else product_code
    m = Mission(
        mission_id=f"M-{next(_missions):05d}",
        drone_code="BL-DR-007",
        type=kind,
        product_code=code,
        product_id=product.id if product else None,
        operator_id=operator_id,
        status=status,
        started_at=at,
        ended_at=at + timedelta(minutes=12),
        point_count=120,
        applied_amount=1.9,
        amount_unit="L",
        product_per_unit=product_per_l,
        product_amount=1.9 * product_per_l if product_per_l else None,
        product_unit=product.unit if product and product_per_l else None,
        treated_area_ha=1.9,
        overspray_area_ha=0.01,
        dirty=False,
    )
    session.add(m)
    session.flush()
    session.add(
        MissionField(
            mission_pk=m.id,
            field_id=field.id,
            treated_area_ha=1.9,
            coverage_pct=95.0,
            applied_amount=1.9,
            dose_per_ha=1.0,
            product_amount=1.9 * product_per_l if product_per_l else None,
            product_dose_per_ha=product_per_l,
        )
    )
    session.commit()
    if with_diary:
        diary.append_entry(
            session,
            data=DiaryEntryCreate(
                field_code=field.code,
                occurred_at=at,
                activity=kind,
                input_code=product.code if product else None,
                quantity=1.9,
                unit="L",
                area_ha=1.9,
                note=f"drone BL-DR-007, mission {m.mission_id}",
            ),
            source="drone",
            mission_id=m.mission_id,
        )
    return m


@pytest.fixture
def farm(factory):
    """One farmer's field with a season sown on 5 January 2026."""
    field = factory.field()
    factory.season(field, sown_on=date(2026, 1, 5))
    return field


def verdict(session, lot) -> dict:
    return svc.build_trace(session, code=lot.code)


def product_of(data: dict, code: str, lot_code: str | None = None) -> dict:
    lot_code = lot_code or data["lot"]["code"]
    item = next(x for x in data["phi"]["lots"] if x["lot_code"] == lot_code)
    return next(p for p in item["products"] if p["product_code"] == code)


# ---------------------------------------------------------------- the boundary day


@pytest.mark.parametrize(
    ("sprayed", "compliant", "days"),
    [
        ("2026-03-27T08:00:00", True, 14),  # harvest on D+14: kept
        ("2026-03-28T08:00:00", False, 13),  # harvest on D+13: not kept
        ("2026-03-27T23:30:00", True, 14),  # late evening still counts as the 27th
        # 06:00 on the 28th in Bạc Liêu is still the 27th in UTC: the local day counts.
        ("2026-03-28T06:00:00", False, 13),
    ],
)
def test_phi_boundary_day_in_local_time(session, factory, farm, sprayed, compliant, days):
    product = factory.input(phi_days=14)
    spray(factory, farm, product, sprayed)
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    assert data["phi_compliant"] is compliant
    p = product_of(data, product.code)
    assert p["days_before_harvest"] == days
    assert p["phi_days"] == 14
    assert p["last_application_on"] == date.fromisoformat(sprayed[:10])
    assert p["earliest_safe_harvest"] == p["last_application_on"] + timedelta(days=14)
    assert p["applications"][0]["source"] == "diary"


def test_diary_only_takes_the_last_application_of_each_product(session, factory, farm):
    a = factory.input(phi_days=7)
    b = factory.input(phi_days=21)
    spray(factory, farm, a, "2026-02-01T08:00:00")
    spray(factory, farm, a, "2026-04-05T08:00:00")  # 5 days before harvest, PHI 7
    spray(factory, farm, b, "2026-03-01T08:00:00")  # 40 days, PHI 21
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    assert data["phi_compliant"] is False
    pa, pb = product_of(data, a.code), product_of(data, b.code)
    assert pa["phi_compliant"] is False and pa["last_application_on"] == date(2026, 4, 5)
    assert len(pa["applications"]) == 2
    assert pa["earliest_safe_harvest"] == date(2026, 4, 12)
    assert pb["phi_compliant"] is True and pb["days_before_harvest"] == 40


def test_drone_only_mission_gives_the_verdict(session, factory, farm):
    product = factory.input(phi_days=14)
    m = make_mission(
        session, field=farm, product=product, at=local("2026-03-29T07:00:00"), with_diary=False
    )
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    assert data["phi_compliant"] is False
    p = product_of(data, product.code)
    assert [a["source"] for a in p["applications"]] == ["drone"]
    assert p["applications"][0]["mission_id"] == m.mission_id
    assert p["applications"][0]["dose_per_ha"] == 1.0
    assert p["days_before_harvest"] == 12


def test_drone_dose_is_the_product_s_when_the_tank_mix_is_known(session, factory, farm):
    product = factory.input(phi_days=7, unit="kg")
    make_mission(
        session,
        field=farm,
        product=product,
        at=local("2026-03-01T07:00:00"),
        with_diary=False,
        product_per_l=0.015,
    )
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    (application,) = product_of(verdict(session, lot), product.code)["applications"]
    # 1 L/ha of tank mix holding 0.015 kg of product per litre.
    assert application["dose_per_ha"] == pytest.approx(0.015)


def test_drone_mission_found_by_product_code_alone(session, factory, farm):
    product = factory.input(phi_days=10)
    make_mission(
        session,
        field=farm,
        product_code=product.code,
        at=local("2026-03-20T07:00:00"),
        with_diary=False,
    )
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    assert data["phi_compliant"] is True
    assert product_of(data, product.code)["applications"][0]["source"] == "drone"


def test_mixed_records_count_each_drone_application_once(session, factory, farm):
    product = factory.input(phi_days=14)
    spray(factory, farm, product, "2026-03-01T08:00:00")
    m = make_mission(session, field=farm, product=product, at=local("2026-03-20T07:00:00"))
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    p = product_of(data, product.code)
    assert sorted(a["source"] for a in p["applications"]) == ["diary", "drone"]
    assert p["last_application_on"] == date(2026, 3, 20)
    assert data["phi_compliant"] is True
    sprays = [e for e in data["events"] if e["activity"] == "spray"]
    assert len(sprays) == 2
    drone_event = next(e for e in sprays if e["kind"] == "drone_mission")
    assert drone_event["mission_id"] == m.mission_id
    # The mission's own diary line is kept as its evidence, not as a second spray.
    assert len(drone_event["evidence_entry_ids"]) == 1
    assert drone_event["method"] == "drone"


def test_drone_spray_after_a_compliant_hand_spray_decides(session, factory, farm):
    product = factory.input(phi_days=14)
    spray(factory, farm, product, "2026-03-01T08:00:00")
    make_mission(session, field=farm, product=product, at=local("2026-04-01T07:00:00"))
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    assert verdict(session, lot)["phi_compliant"] is False


def test_unknown_phi_makes_that_product_and_the_lot_unknown(session, factory, farm):
    known = factory.input(phi_days=7)
    unknown = factory.input(phi_days=None)
    spray(factory, farm, known, "2026-03-01T08:00:00")
    spray(factory, farm, unknown, "2026-03-01T08:00:00")
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    assert data["phi_compliant"] is None
    assert product_of(data, unknown.code)["phi_compliant"] is None
    assert product_of(data, unknown.code)["earliest_safe_harvest"] is None
    assert product_of(data, known.code)["phi_compliant"] is True


def test_a_broken_phi_outweighs_an_unknown_one(session, factory, farm):
    late = factory.input(phi_days=30)
    unknown = factory.input(phi_days=None)
    spray(factory, farm, late, "2026-03-20T08:00:00")
    spray(factory, farm, unknown, "2026-03-01T08:00:00")
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    assert verdict(session, lot)["phi_compliant"] is False


def test_spray_without_a_product_is_unknown(session, factory, farm):
    ok = factory.input(phi_days=7)
    spray(factory, farm, ok, "2026-03-01T08:00:00")
    spray(factory, farm, None, "2026-03-02T08:00:00")
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    assert data["phi_compliant"] is None
    unknown = data["phi"]["lots"][0]["unknown_applications"]
    assert len(unknown) == 1 and unknown[0]["date"] == date(2026, 3, 2)


def test_drone_spray_of_an_unregistered_product_is_unknown(session, factory, farm):
    make_mission(
        session,
        field=farm,
        product_code="NOT-IN-CATALOGUE",
        at=local("2026-02-01T07:00:00"),
        with_diary=False,
    )
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    assert data["phi_compliant"] is None
    assert data["phi"]["lots"][0]["unknown_applications"][0]["product_code"] == "NOT-IN-CATALOGUE"


def test_no_pesticide_at_all_is_compliant_and_says_so(session, factory, farm):
    urea = factory.input(kind="fertilizer", unit="kg", phi_days=None, max_dose_per_ha=200)
    factory.entry(farm, activity="fertilize", input_code=urea.code, quantity=100.0)
    # A foliar fertiliser sprayed the day before harvest is not a pesticide.
    spray(factory, farm, urea, "2026-04-09T08:00:00", quantity=2.0)
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    assert data["phi_compliant"] is True
    assert data["phi"]["lots"][0]["products"] == []
    assert "no pesticide applied" in data["phi"]["lots"][0]["notes"][0]


def test_applications_outside_the_season_do_not_count(session, factory, farm):
    product = factory.input(phi_days=14)
    spray(factory, farm, product, "2026-01-02T08:00:00")  # before sowing on 5 January
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)
    # After the harvest, recorded after the lot: the next crop's.
    spray(factory, farm, product, "2026-04-11T08:00:00")

    data = verdict(session, lot)

    assert data["phi_compliant"] is True
    assert data["phi"]["lots"][0]["products"] == []


def test_without_a_season_the_default_window_is_used_and_stated(session, factory):
    field = factory.field()
    product = factory.input(phi_days=14)
    spray(factory, field, product, "2026-04-01T08:00:00")
    spray(factory, field, product, "2025-09-01T08:00:00")  # more than 180 days before harvest
    lot = factory.lot(fields_=[field], harvested_on=HARVEST)

    data = verdict(session, lot)

    window = data["seasons"][0]["window"]
    assert window["default"] is True
    assert window["start"] == HARVEST - timedelta(days=svc.DEFAULT_WINDOW_DAYS)
    assert "180 days" in window["basis"]
    assert data["phi_compliant"] is False
    assert len(product_of(data, product.code)["applications"]) == 1


def test_the_corrected_view_decides(session, factory, farm):
    product = factory.input(phi_days=14)
    wrong = spray(factory, farm, product, "2026-04-05T08:00:00")
    # The farmer mistyped the date: the correction moves the spray to March.
    factory.entry(
        farm,
        activity="spray",
        input_code=product.code,
        quantity=1.5,
        occurred_at=local("2026-03-05T08:00:00"),
        corrects=wrong.id,
    )
    withdrawn = spray(factory, farm, product, "2026-04-08T08:00:00")
    factory.entry(
        farm, activity="spray", occurred_at=local("2026-04-08T08:00:00"), corrects=withdrawn.id,
        retracts=True,
    )  # fmt: skip
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    data = verdict(session, lot)

    assert data["phi_compliant"] is True
    p = product_of(data, product.code)
    assert [a["date"] for a in p["applications"]] == [date(2026, 3, 5)]


def test_mission_on_another_field_does_not_count(session, factory, farm):
    other = factory.field()
    product = factory.input(phi_days=14)
    make_mission(session, field=other, product=product, at=local("2026-04-08T07:00:00"))
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    assert verdict(session, lot)["phi_compliant"] is True


# ---------------------------------------------------------------- lineage


def _two_levels(session, factory, *, late_spray_on_b: bool, unknown_on_a: bool = False):
    """A (field fa) milled into M1; M1 mixed with B (field fb) into M2."""
    fa, fb = factory.field(), factory.field()
    factory.season(fa, sown_on=date(2026, 1, 3))
    factory.season(fb, sown_on=date(2026, 1, 8))
    product = factory.input(phi_days=14)
    spray(factory, fa, product, "2026-03-01T08:00:00")
    if unknown_on_a:
        spray(factory, fa, None, "2026-03-02T08:00:00")
    make_mission(
        session,
        field=fb,
        product=product,
        at=local("2026-04-02T07:00:00" if late_spray_on_b else "2026-03-02T07:00:00"),
    )
    a = factory.lot(fields_=[fa], harvested_on=date(2026, 4, 10), code="A-2026")
    b = factory.lot(fields_=[fb], harvested_on=date(2026, 4, 12), code="B-2026")
    m1 = factory.lot(parents=[a], harvested_on=date(2026, 4, 20), code="M1-GAO", quantity_kg=3500)
    m2 = factory.lot(parents=[m1, b], harvested_on=date(2026, 4, 25), code="M2-MIX")
    return a, b, m1, m2


def test_lineage_through_two_levels_and_inherited_verdict(session, factory):
    *_, m2 = _two_levels(session, factory, late_spray_on_b=True)

    data = verdict(session, m2)

    assert data["lot"]["kind"] == "derived"
    assert data["lot"]["parent_lots"] == ["B-2026", "M1-GAO"]
    lineage = {x["code"]: x for x in data["lineage"]}
    assert {c: x["depth"] for c, x in lineage.items()} == {"M1-GAO": 1, "B-2026": 1, "A-2026": 2}
    assert lineage["A-2026"]["used_in"] == ["M1-GAO"]
    assert lineage["A-2026"]["phi_compliant"] is True
    assert lineage["M1-GAO"]["phi_compliant"] is True
    assert lineage["B-2026"]["phi_compliant"] is False
    # B's harvest date counts for B's fields, not the mixing date.
    assert (
        product_of(data, data["phi"]["lots"][-1]["products"][0]["product_code"], "B-2026")[
            "days_before_harvest"
        ]
        == 10
    )
    assert data["phi_compliant"] is False
    assert {f["code"] for f in data["fields"]} == set(lineage["A-2026"]["field_codes"]) | set(
        lineage["B-2026"]["field_codes"]
    )
    kinds = [e["kind"] for e in data["events"]]
    assert kinds.count("lot") == 4
    assert data["events"][-1]["lot_codes"] == ["M2-MIX"]
    assert data["events"][-1]["from_lots"] == ["B-2026", "M1-GAO"]


def test_lineage_all_compliant_and_unknown_grandparent(session, factory):
    *_, m2 = _two_levels(session, factory, late_spray_on_b=False)
    assert verdict(session, m2)["phi_compliant"] is True


def test_unknown_grandparent_makes_the_mix_unknown(session, factory):
    *_, m2 = _two_levels(session, factory, late_spray_on_b=False, unknown_on_a=True)
    data = verdict(session, m2)
    assert data["phi_compliant"] is None
    assert {x["code"]: x["phi_compliant"] for x in data["lineage"]}["M1-GAO"] is None


def test_events_are_oldest_first(session, factory, farm):
    product = factory.input(phi_days=14)
    spray(factory, farm, product, "2026-03-10T08:00:00")
    factory.entry(farm, activity="seed", occurred_at=local("2026-01-05T07:00:00"))
    make_mission(session, field=farm, product=product, at=local("2026-02-10T07:00:00"))
    factory.entry(farm, activity="harvest", occurred_at=local("2026-04-10T06:00:00"))
    lot = factory.lot(fields_=[farm], harvested_on=HARVEST)

    events = verdict(session, lot)["events"]

    assert [e["activity"] for e in events] == ["seed", "spray", "spray", "harvest", "harvest"]
    assert [e["kind"] for e in events][-1] == "lot"
    stamps = [e["at"] for e in events]
    assert stamps == sorted(stamps)
