"""The maps: as-applied map of a mission, rendered for real missions, each layer checked.

Expected areas are worked out by hand from the flights' geometry (passes of known width
and spacing over rectangles of known size), and compared with the areas of the SVG's
paths read back in metres.
"""

import math
import random
from datetime import UTC, date, datetime

import orjson
import pytest
from sqlalchemy import select

from drone_ingest import handlers
from drone_ingest.handlers import Message
from drone_ingest.simulate import DroneSpec, ProductSpec, fly_mission, load_fleet
from tests import svgread
from tests.factories import rectangle_lonlat
from tests.mqtt import end_event, lawnmower, start_event
from tests.test_simulate import measure
from traceability.maps.mission import MissionShapes, mission_svg
from traceability.maps.png import svg_to_png
from traceability.models import Farmer, FarmField, ZoneCreate
from traceability.services import missions, zones

API = "/api/v1"
T1 = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)


def _fly(session, drone: str, mission_id: str, points: list[dict], **start) -> None:
    payloads = [("mission", start_event(mission_id, **start))]
    payloads += [("telemetry", points[i : i + 100]) for i in range(0, len(points), 100)]
    payloads.append(("mission", end_event(mission_id, points)))
    messages = [
        Message(topic=f"agri/drones/{drone}/{kind}", payload=orjson.dumps(p))
        for kind, p in payloads
    ]
    handlers.store(session, messages, prefix="agri", max_bytes=1_000_000)


@pytest.fixture
def flown(session, factory):
    return build_flown(session, factory)


def build_flown(session, factory):
    """M1: ten 12 m passes 10 m apart from x=-5 to 85 over F1 (0..100 × 0..200 m), so
    2 m overlap between neighbours and 11 m of overspray west of F1. M2: two 10 m passes
    at x=165 and 175 over nothing, reaching zone Z1 (170..180 × 80..120, 5 m buffer)."""
    service = factory.organisation("drone_service", code="S")
    factory.field(code="F1", x0=0, y0=0, width=100, height=200)
    factory.field(code="F2", x0=100, y0=0, width=60, height=200)
    factory.input(code="P1", max_dose_per_ha=10.0)
    factory.drone(code="D1", swath_m=12.0, organisation=service)
    zone = {
        "type": "Feature",
        "geometry": rectangle_lonlat(170, 80, 10, 40).__geo_interface__,
        "properties": {"code": "Z1", "kind": "canal", "buffer_m": 5},
    }
    zones.create_zone(session, feature=ZoneCreate.model_validate(zone))
    _fly(session, "D1", "M1", lawnmower(mission_id="M1", x0=-10), product_code="P1", swath_m=12.0)
    m2 = lawnmower(mission_id="M2", x0=160, passes=2, t0=T1, seq0=10_000)
    _fly(session, "D1", "M2", m2, product_code="P1", swath_m=10.0, ts=T1.isoformat())
    missions.measure_dirty(session)
    return service


def _svg(client, headers, mission_id, **params) -> str:
    r = client.get(f"{API}/missions/{mission_id}/map.svg", headers=headers, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    return r.text


def test_overlap_and_overspray_drawn_to_scale(client, admin_headers, flown):
    root = svgread.parse(_svg(client, admin_headers, "M1"))
    mission = client.get(f"{API}/missions/M1", headers=admin_headers).json()
    assert root.get("data-epsg") == "32648"
    for layer_id in ("swath", "overlap", "overspray"):
        assert len(svgread.features(root, layer_id)) == 1, layer_id
    assert svgread.features(root, "nospray-zones") == []  # no zone near M1
    # Union of the runs: x from -11 to 91, 200 m long.
    swath = svgread.layer_area_m2(root, "swath")
    assert swath == pytest.approx(102 * 200, rel=0.005)
    assert swath == pytest.approx(mission["sprayed_area_ha"] * 10_000, rel=0.005)
    # Nine 2 m seams sprayed twice; 11 m strip west of F1 outside every field.
    assert svgread.layer_area_m2(root, "overlap") == pytest.approx(9 * 2 * 200, rel=0.01)
    assert svgread.layer_area_m2(root, "overspray") == pytest.approx(11 * 200, rel=0.01)
    assert svgread.layer_area_m2(root, "overspray") == pytest.approx(
        mission["overspray_area_ha"] * 10_000, rel=0.01
    )
    # F1 only: F2 (100..160) is beyond the half swath and a metre from the flight.
    codes = sorted(f.get("data-code") for f in svgread.features(root, "fields"))
    assert codes == ["F1"]
    assert svgread.layer_area_m2(root, "fields") == pytest.approx(100 * 200, rel=0.005)
    assert svgread.features(root, "nospray-spray") == []
    assert root.find(".//svg:g[@id='scale-bar']", svgread.NS) is not None
    assert root.find(".//svg:g[@id='north-arrow']", svgread.NS) is not None


def test_spray_inside_a_no_spray_zone(client, admin_headers, flown):
    root = svgread.parse(_svg(client, admin_headers, "M2"))
    zone_features = svgread.features(root, "nospray-zones")
    assert [f.get("data-code") for f in zone_features] == ["Z1"]
    # The zone grown by 5 m: a 20 × 50 m rectangle with rounded corners of radius 5.
    rounded_rect = 20 * 50 - (4 - math.pi) * 25
    assert svgread.layer_area_m2(root, "nospray-zones") == pytest.approx(rounded_rect, rel=0.01)
    # The swath (160..180) covers x 165..180 of it: 15 × 50 minus the two western corners.
    inside = 15 * 50 - 2 * (25 - math.pi * 25 / 4)
    assert svgread.layer_area_m2(root, "nospray-spray") == pytest.approx(inside, rel=0.01)
    mission = client.get(f"{API}/missions/M2", headers=admin_headers).json()
    assert mission["nospray_area_ha"] * 10_000 == pytest.approx(inside, rel=0.01)
    assert svgread.layer_area_m2(root, "overspray") == pytest.approx(20 * 200, rel=0.005)


def test_legend_in_vietnamese_and_english(client, admin_headers, flown):
    vi = _svg(client, admin_headers, "M1")
    en = _svg(client, admin_headers, "M1", lang="en")
    assert "Phun chồng" in vi and "Vùng cấm phun" in vi and "Overlap" not in vi
    assert "Overlap (sprayed twice)" in en and "No-spray zones" in en
    legend = svgread.parse(en).find(".//svg:g[@id='legend']", svgread.NS)
    assert len([t for t in legend if t.tag.endswith("text")]) == 6


def test_png_of_a_mission(client, admin_headers, flown):
    r = client.get(f"{API}/missions/M1/map.png", headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    root = svgread.parse(_svg(client, admin_headers, "M1"))
    width, height = svgread.png_size(r.content)
    # Twice the SVG's pixel size.
    assert (width, height) == (2 * int(root.get("width")), 2 * int(root.get("height")))


def test_map_access_follows_the_mission(client, flown, factory):
    own = factory.token("operator", organisation=flown)
    other = factory.token("operator")
    office = factory.token("office")
    assert client.get(f"{API}/missions/M1/map.svg", headers=own).status_code == 200
    assert client.get(f"{API}/missions/M1/map.svg", headers=office).status_code == 200
    r = client.get(f"{API}/missions/M1/map.png", headers=other)
    assert r.status_code == 403 and "your organisation" in r.json()["detail"]
    r = client.get(f"{API}/missions/NOPE/map.svg", headers=office)
    assert r.status_code == 404 and "NOPE" in r.json()["detail"]


def test_simulated_fixture_flight_with_overspray_renders():
    """A simulated flight over a farmer's fixture plots, 6 m past their edges."""
    _drones, groups, _products = load_fleet()
    group = next(g for g in groups if len(g) == 3)

    drone = DroneSpec(code="D", swath_m=11.0, tank_capacity=40.0, spreader_capacity_kg=50.0)
    product = ProductSpec(code="P", kind="pesticide", unit="L", max_dose_per_ha=1.5)
    flight = fly_mission(
        group, drone=drone, product=product, start_ts=T1, rng=random.Random(5), overspray_m=6.0
    )
    app = measure(flight, group)
    shapes = MissionShapes("SIM", "sim", group, app.runs_wgs84, ())
    svg = mission_svg(shapes)
    root = svgread.parse(svg)
    assert len(svgread.features(root, "fields")) == 3
    assert svgread.layer_area_m2(root, "swath") == pytest.approx(app.sprayed_area_m2, rel=0.005)
    assert svgread.layer_area_m2(root, "overspray") == pytest.approx(
        app.overspray_area_m2, rel=0.02
    )
    assert app.overspray_area_m2 > 50  # the flight did go past the edges
    width, height = svgread.png_size(svg_to_png(svg, scale=1.0))
    assert (width, height) == (int(root.get("width")), int(root.get("height")))


def test_a_mission_with_nothing_to_draw_still_answers():
    svg = mission_svg(MissionShapes("EMPTY", "", (), (), ()), lang="en")
    assert "No data yet" in svg
    assert svgread.png_size(svg_to_png(svg))[0] > 0


# ---------------------------------------------------------------- a field's season


@pytest.fixture
def season_world(session, factory, flown):
    """F1 in a season from 20 Feb 2026: mission M1 over it, a hand spray corrected once."""
    f1 = session.execute(select(FarmField).where(FarmField.code == "F1")).scalar_one()
    season = factory.season(f1, sown_on=date(2026, 2, 20))
    when = datetime.fromisoformat("2026-03-05T07:30:00+07:00")
    first = factory.entry(
        f1, activity="spray", input_code="P1", quantity=0.5, unit="L", area_ha=2.0, occurred_at=when
    )
    factory.entry(
        f1,
        activity="spray",
        input_code="P1",
        quantity=0.4,
        unit="L",
        area_ha=2.0,
        occurred_at=when,
        corrects=first.id,
    )
    # Before the season: not on its map.
    factory.entry(
        f1,
        activity="spray",
        input_code="P1",
        quantity=9.0,
        unit="L",
        area_ha=2.0,
        occurred_at=datetime.fromisoformat("2026-01-10T07:30:00+07:00"),
    )
    return f1, season


def test_field_season_map(client, admin_headers, season_world):
    f1, season = season_world
    r = client.get(f"{API}/fields/F1/map.svg", headers=admin_headers, params={"season": season.id})
    assert r.status_code == 200, r.text
    root = svgread.parse(r.text)
    assert [f.get("data-code") for f in svgread.features(root, "fields")] == ["F1"]
    assert svgread.layer_area_m2(root, "fields") == pytest.approx(100 * 200, rel=0.005)
    drawn = svgread.features(root, "missions")
    assert [f.get("data-mission") for f in drawn] == ["M1"]  # M2 never touched F1
    # M1's swath (-11..91 × 0..200) lies within F1 grown by 20 m.
    assert svgread.layer_area_m2(root, "missions") == pytest.approx(102 * 200, rel=0.005)
    hand = [t.text for t in svgread.features(root, "hand-applications")]
    assert len(hand) == 1, hand
    assert "05/03/2026 07:30" in hand[0] and "0.4 L" in hand[0] and "0.5" not in hand[0]
    png = client.get(f"{API}/fields/F1/map.png", headers=admin_headers)
    assert png.headers["content-type"] == "image/png"
    assert svgread.png_size(png.content) == (
        2 * int(root.get("width")),
        2 * int(root.get("height")),
    )


def test_field_season_map_access(client, season_world, factory, session):
    f1, season = season_world
    owner = factory.token("farmer", session.get(Farmer, f1.farmer_id))
    stranger = factory.token("farmer", factory.farmer())
    other_operator = factory.token("operator")
    assert client.get(f"{API}/fields/F1/map.svg", headers=owner).status_code == 200
    assert client.get(f"{API}/fields/F1/map.svg", headers=stranger).status_code == 403
    # Operators read diaries but only their own organisation's missions.
    r = client.get(f"{API}/fields/F1/map.svg", headers=other_operator, params={"lang": "en"})
    assert r.status_code == 200
    assert svgread.features(svgread.parse(r.text), "missions") == []
    assert "Hand applications" in r.text
    r = client.get(f"{API}/fields/F1/map.svg", headers=owner, params={"season": 999_999})
    assert r.status_code == 404 and "999999" in r.json()["detail"]
    assert client.get(f"{API}/fields/NOPE/map.svg", headers=owner).status_code == 404


# ---------------------------------------------------------------- the communes


@pytest.fixture
def communes(factory):
    build_communes(factory)


def build_communes(factory):
    """Commune 31825: two fields sprayed by hand on 2.0 and 1.5 ha in March; 31834: one
    field sprayed on 1.0 ha in March and on 4.0 ha in May (outside the period asked)."""
    product = factory.input(code="PC")
    a1 = factory.field(code="CA1", x0=5000, commune_code="31825")
    a2 = factory.field(code="CA2", x0=5150, commune_code="31825")
    b1 = factory.field(code="CB1", x0=7000, commune_code="31834")
    factory.field(code="CC1", x0=9000, commune_code="31840")  # nothing treated
    for field, area, day in (
        (a1, 2.0, "03-02"),
        (a2, 1.5, "03-09"),
        (b1, 1.0, "03-03"),
        (b1, 4.0, "05-01"),
    ):
        factory.entry(
            field,
            activity="spray",
            input_code=product.code,
            quantity=0.5,
            unit="L",
            area_ha=area,
            occurred_at=datetime.fromisoformat(f"2026-{day}T07:00:00+07:00"),
        )


def test_commune_map_of_hectares(client, admin_headers, communes):
    params = {"from": "2026-03-01", "to": "2026-03-31", "product": "PC"}
    r = client.get(f"{API}/maps/communes.svg", headers=admin_headers, params=params)
    assert r.status_code == 200, r.text
    root = svgread.parse(r.text)
    circles = {c.get("data-commune"): c for c in svgread.features(root, "communes")}
    assert sorted(circles) == ["31825", "31834"]  # 31840 had nothing treated
    assert float(circles["31825"].get("data-hectares")) == pytest.approx(3.5)
    assert float(circles["31834"].get("data-hectares")) == pytest.approx(1.0)
    # Circle areas in proportion to hectares; a circle at the top class (4 ha) has the
    # full radius.
    r1, r2 = (float(circles[c].get("r")) for c in ("31825", "31834"))
    assert r1 == pytest.approx(float(root.get("data-max-radius")) * math.sqrt(3.5 / 4), abs=0.01)
    assert (r1 / r2) ** 2 == pytest.approx(3.5, rel=0.01)
    # Classes of 1 ha (breaks 1, 2, 3, 4): 3.5 ha is the 4th class, 1.0 the 1st.
    assert circles["31825"].get("data-class") == "3" and circles["31834"].get("data-class") == "0"
    assert len(svgread.features(root, "fields")) == 4
    assert svgread.layer_area_m2(root, "fields") == pytest.approx(4 * 100 * 200, rel=0.005)
    legend = svgread.parse(r.text).find(".//svg:g[@id='legend']", svgread.NS)
    assert [t.text for t in legend if t.tag.endswith("text")][:2] == ["0 – 1 ha", "1 – 2 ha"]
    assert "01/03/2026 – 31/03/2026 · PC" in r.text
    assert svgread.png_size(svg_to_png(r.text))[0] == 2 * int(root.get("width"))


def test_commune_map_whole_record_and_refusals(client, admin_headers, communes, factory):
    r = client.get(f"{API}/maps/communes.svg", headers=admin_headers, params={"lang": "en"})
    circles = {
        c.get("data-commune"): c for c in svgread.features(svgread.parse(r.text), "communes")
    }
    assert float(circles["31834"].get("data-hectares")) == pytest.approx(5.0)
    assert "Hectares treated by commune" in r.text
    bad = client.get(
        f"{API}/maps/communes.svg",
        headers=admin_headers,
        params={"from": "2026-04-01", "to": "2026-03-01"},
    )
    assert bad.status_code == 422 and "after" in bad.json()["detail"]
    for headers in (
        factory.token("operator"),
        factory.token("cooperative"),
        factory.token("farmer", factory.farmer()),
    ):
        r = client.get(f"{API}/maps/communes.svg", headers=headers)
        assert r.status_code == 403 and "office" in r.json()["detail"]
    assert (
        client.get(f"{API}/maps/communes.svg", headers=factory.token("office")).status_code == 200
    )


def test_a_provinces_fields_too_small_to_see_are_drawn_as_the_pixels_they_cover():
    """3,000 fields of 1 ha on a 27 km grid (UTM 48N) in two communes, at 400 px: each
    field is about half a pixel, so they are drawn as the pixels they touch, one path per
    colour, instead of a path each (the old drawing was 378 kB, checked)."""
    from pyproj import Transformer
    from shapely.geometry import box

    from traceability.maps.communes import CLASS_COLOURS, NO_DATA, Commune, communes_svg

    to_wgs84 = Transformer.from_crs(32648, 4326, always_xy=True)
    fields: dict[str, list] = {"31957": [], "31906": []}
    for k in range(3000):
        x, y = 520_000.0 + (k % 100) * 270.0, 1_000_000.0 + (k // 100) * 300.0
        (x0, x1), (y0, y1) = to_wgs84.transform([x, x + 100.0], [y, y + 100.0])
        fields["31957" if k % 100 < 50 else "31906"].append(box(x0, y0, x1, y1))
    communes = [Commune("31957", "Tân Thành", fields["31957"], 40.0),
                Commune("31906", "Khánh Bình", fields["31906"], 0.0)]  # fmt: skip
    svg = communes_svg(communes, lang="vi", width=400.0)
    assert len(svg) < 60_000
    root = svgread.parse(svg)
    specks = [p for p in root.iter("{http://www.w3.org/2000/svg}path")
              if p.get("class") == "specks"]  # fmt: skip
    # One path per colour: the treated commune's top class (40 ha is the top) and no data.
    assert sorted(p.get("fill") for p in specks) == sorted([CLASS_COLOURS[-1], NO_DATA])
    # The two halves of the grid side by side: the treated one left of the other.
    left = {p.get("fill"): float(p.get("d")[1:].split(",")[0]) for p in specks}
    assert left[CLASS_COLOURS[-1]] < left[NO_DATA]
    circles = {c.get("data-commune") for c in svgread.features(root, "communes")}
    assert circles == {"31957"}


def test_the_communes_fields_kept_between_maps_follow_the_fields(session, factory):
    """The outlines are kept between views, but a field added, or one moved to another
    commune behind the application's back, shows on the next map; the kept lists are
    never the caller's to change."""
    from sqlalchemy import update

    from traceability.services import maps

    first = factory.field(code="CF-1", x0=0.0, commune_code="31957")
    factory.field(code="CF-2", x0=500.0, commune_code="31957")
    session.commit()
    shapes = maps.commune_fields(session)
    assert {c: len(g) for c, g in shapes.items()} == {"31957": 2}
    shapes["31957"].clear()  # the caller's own list
    assert len(maps.commune_fields(session)["31957"]) == 2
    factory.field(code="CF-3", x0=1000.0, commune_code="31906")
    session.commit()
    assert {c: len(g) for c, g in maps.commune_fields(session).items()} == {"31957": 2, "31906": 1}
    session.execute(update(FarmField).where(FarmField.id == first.id).values(commune_code="31951"))
    session.commit()
    moved = maps.commune_fields(session)
    assert {c: len(g) for c, g in moved.items()} == {"31951": 1, "31957": 1, "31906": 1}
    # The moved field's own outline: its stored bounding box (coordinates kept to 7
    # decimals, 1 cm).
    assert moved["31951"][0].bounds == pytest.approx(first_bounds(first), abs=1e-7)
    assert maps.commune_fields(session, ["31906"]).keys() == {"31906"}


def first_bounds(field):
    return (field.min_lon, field.min_lat, field.max_lon, field.max_lat)


def test_a_commune_map_drawn_again_is_the_map_drawn_afresh():
    """The last projection is reused for the same outlines only: maps of other outlines,
    or of the first ones again, are each what a fresh drawing gives."""
    from traceability.maps import communes

    def fields(*xs):
        return [rectangle_lonlat(x, 0.0, 100.0, 200.0) for x in xs]

    # The same count of outlines, laid out otherwise: another projection, another map.
    a = [communes.Commune("31957", "A", fields(0.0, 500.0), 2.0)]
    b = [communes.Commune("31957", "A", fields(0.0, 3000.0), 2.0)]
    drawn = [communes.communes_svg(m) for m in (a, b, a)]
    fresh = []
    for m in (a, b, a):
        communes._last = None
        fresh.append(communes.communes_svg(m))
    assert drawn == fresh and drawn[0] != drawn[1]
