"""Analytic checks of traceability.geo: projections, polygon parsing and as-applied maths.

Flights are laid out in UTM 48N (Bạc Liêu) where the expected areas are simple arithmetic,
then handed to the code as WGS84 lon/lat, exactly as a drone log would be.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import Point, box, mapping

from traceability.errors import InvalidGeometry
from traceability.geo import (
    Application,
    area_ha,
    bbox_wgs84,
    measure_application,
    parse_polygon,
    to_metres,
    to_wgs84,
    utm_epsg,
)

EPSG = 32648
FLOW = 2.0  # L/min
SPEED = 5.0  # m/s
SWATH = 10.0  # m
BURKINA = Path(__file__).parent / "data" / "jecam_burkina_koumbia_100.geojson"

_TO_LONLAT = Transformer.from_crs(EPSG, 4326, always_xy=True)
X0, Y0 = Transformer.from_crs(4326, EPSG, always_xy=True).transform(105.5, 9.3)


def field_wgs84(x_min: float = 0.0, y_min: float = 0.0, width: float = 100.0, height=200.0):
    """A rectangle laid out in UTM metres relative to (X0, Y0), returned in WGS84."""
    return to_wgs84(box(X0 + x_min, Y0 + y_min, X0 + x_min + width, Y0 + y_min + height), EPSG)


def fly(legs, *, speed: float = SPEED, hz: float = 1.0) -> dict:
    """Sample straight legs ``((x0, y0), (x1, y1), spraying)`` at ``hz``; metres from (X0, Y0).

    Every leg is a whole number of fixes long in these tests, so fixes land exactly on the
    leg ends. The last fix carries spraying=False (nothing follows it).
    """
    xs, ys, on = [], [], []
    for (xa, ya), (xb, yb), spraying in legs:
        steps = round(math.hypot(xb - xa, yb - ya) / speed * hz)
        for k in range(steps):
            xs.append(xa + (xb - xa) * k / steps)
            ys.append(ya + (yb - ya) * k / steps)
            on.append(spraying)
    xs.append(legs[-1][1][0])
    ys.append(legs[-1][1][1])
    on.append(False)
    lon, lat = _TO_LONLAT.transform(X0 + np.array(xs), Y0 + np.array(ys))
    n = len(xs)
    return {
        "lon": lon,
        "lat": lat,
        "t": 1_700_000_000.0 + np.arange(n) / hz,
        "spraying": np.array(on),
        "rate": np.full(n, FLOW),
        "swath_m": np.full(n, SWATH),
    }


def lawnmower(*, overrun: float = 0.0, passes: int = 10) -> dict:
    """Passes along the field's long side, 10 m apart, applicator off in the turns."""
    legs = []
    for j in range(passes):
        xc = SWATH / 2 + j * SWATH
        y_from, y_to = (-overrun, 200.0 + overrun) if j % 2 == 0 else (200.0 + overrun, -overrun)
        legs.append(((xc, y_from), (xc, y_to), True))
        if j < passes - 1:
            legs.append(((xc, y_to), (xc + SWATH, y_to), False))
    return fly(legs)


# ------------------------------------------------------------------------------ utm_epsg


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (105.5, 9.3, 32648),  # Bạc Liêu
        (105.85, 21.03, 32648),  # Hanoi
        (108.2, 16.05, 32649),  # Đà Nẵng
        (-3.8, 11.2, 32630),  # Koumbia, Burkina Faso
        (106.85, -6.2, 32748),  # Jakarta, southern hemisphere
        (-47.9, -15.8, 32723),  # Brasília
        (180.0, 0.0, 32660),  # the antimeridian belongs to zone 60
        (-180.0, 0.0, 32601),
    ],
)
def test_utm_epsg(lon, lat, epsg):
    assert utm_epsg(lon, lat) == epsg


@pytest.mark.parametrize(("lon", "lat"), [(181.0, 0.0), (0.0, -91.0), (math.nan, 0.0)])
def test_utm_epsg_rejects_bad_points(lon, lat):
    with pytest.raises(InvalidGeometry):
        utm_epsg(lon, lat)


# ------------------------------------------------------------------------------ projections


def test_to_metres_round_trip_and_own_zone():
    field = field_wgs84()
    projected, epsg = to_metres(field)
    assert epsg == EPSG
    assert projected.area == pytest.approx(20_000.0, rel=1e-9)
    back = to_wgs84(projected, epsg)
    assert np.allclose(np.asarray(back.exterior.coords), np.asarray(field.exterior.coords))


def test_to_metres_forced_zone():
    projected, epsg = to_metres(Point(105.5, 9.3), 32649)
    assert epsg == 32649
    assert projected.x < 0  # 105.5E is far west of zone 49's 111E central meridian


def test_to_metres_rejects_empty():
    with pytest.raises(InvalidGeometry, match="empty"):
        to_metres(Point())


def test_area_ha_rectangle():
    assert area_ha(field_wgs84()) == pytest.approx(2.0, rel=1e-9)


def test_area_ha_matches_geodesic_area_of_real_parcels():
    features = json.loads(BURKINA.read_text())["features"]
    assert len(features) == 100
    for feature in features:
        geom = parse_polygon(feature["geometry"])
        geodesic_m2 = feature["properties"]["geodesic_area_m2"]
        assert to_metres(geom)[1] == 32630
        assert area_ha(geom) * 10_000 == pytest.approx(geodesic_m2, rel=0.005)
        # Measuring Burkina parcels in Vietnam's zone is badly wrong: this is why each
        # geometry is measured in its own zone.
        wrong_m2 = to_metres(geom, 32648)[0].area
        assert abs(wrong_m2 / geodesic_m2 - 1) > 0.01


def test_bbox_wgs84_contains_points_with_margin():
    field = field_wgs84()
    lon, lat = np.asarray(field.exterior.coords).T
    min_lon, min_lat, max_lon, max_lat = bbox_wgs84(lon, lat, 50.0)
    box_m, _ = to_metres(box(min_lon, min_lat, max_lon, max_lat), EPSG)
    field_m, _ = to_metres(field, EPSG)
    assert box_m.contains(field_m)
    # Every side is at least 50 m (and not much more) from the points' envelope.
    gap = np.array(box_m.bounds) - np.array(field_m.bounds)
    assert np.all(np.abs(gap) >= 50.0 - 1e-6)
    assert np.all(np.abs(gap) <= 51.0)


def test_bbox_wgs84_ignores_nan_and_rejects_no_points():
    a = bbox_wgs84([105.5, math.nan], [9.3, math.nan], 10.0)
    assert a == bbox_wgs84([105.5], [9.3], 10.0)
    with pytest.raises(ValueError):
        bbox_wgs84([math.nan], [math.nan], 10.0)


# ------------------------------------------------------------------------------ parse_polygon


SQUARE = [[105.5, 9.3], [105.501, 9.3], [105.501, 9.301], [105.5, 9.301], [105.5, 9.3]]


def test_parse_polygon_ok_and_closes_rings():
    p = parse_polygon({"type": "Polygon", "coordinates": [SQUARE[:-1]]})
    assert p.geom_type == "Polygon"
    assert list(p.exterior.coords)[0] == list(p.exterior.coords)[-1]
    assert area_ha(p) == pytest.approx(1.214, abs=0.001)


def test_parse_polygon_multipolygon_with_hole_and_altitude():
    outer = [[105.5, 9.3, 1.0], [105.51, 9.3, 1.0], [105.51, 9.31, 1.0], [105.5, 9.31, 1.0]]
    hole = [[105.502, 9.302], [105.503, 9.302], [105.503, 9.303], [105.502, 9.303]]
    other = [[105.52, 9.3], [105.53, 9.3], [105.53, 9.31], [105.52, 9.31]]
    mp = parse_polygon({"type": "MultiPolygon", "coordinates": [[outer, hole], [other]]})
    assert mp.geom_type == "MultiPolygon"
    assert len(mp.geoms) == 2
    assert len(mp.geoms[0].interiors) == 1
    assert not mp.has_z


def test_parse_polygon_accepts_real_parcels_round_trip():
    feature = json.loads(BURKINA.read_text())["features"][0]
    p = parse_polygon(feature["geometry"])
    assert parse_polygon(mapping(p)).equals(p)


def poly(ring):
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ([SQUARE], "must be an object"),
        ("POLYGON((0 0, 1 0, 1 1, 0 0))", "must be an object"),
        ({"coordinates": [SQUARE]}, "no 'type'"),
        ({"type": "Polygon"}, "no 'coordinates'"),
        ({"type": "LineString", "coordinates": SQUARE}, "got type 'LineString'"),
        ({"type": "Feature", "geometry": poly(SQUARE)}, "got type 'Feature'"),
        ({"type": "Polygon", "coordinates": []}, "no rings"),
        ({"type": "MultiPolygon", "coordinates": []}, "no polygons"),
        (poly([]), "ring 0 is empty"),
        (poly([[105.5, 9.3], [105.501, 9.3]]), "needs at least 3"),
        (poly([[105.5, 9.3], [105.501, 9.3], [105.5, 9.3]]), "needs at least 3"),
        (poly([[105.5, 9.3], [105.501], [105.501, 9.301]]), "must be a [lon, lat] pair"),
        (poly([[105.5, 9.3], [105.501, "9.3"], [105.501, 9.301]]), "latitude '9.3' is not a"),
        (poly([[105.5, 9.3], [True, 9.3], [105.501, 9.301]]), "longitude True is not a"),
        (poly([[105.5, 9.3], [math.nan, 9.3], [105.501, 9.301]]), "longitude nan is not finite"),
        (poly([[105.5, 9.3], [105.501, math.inf], [105.501, 9.301]]), "latitude inf is not fin"),
        (poly([[205.5, 9.3], [105.501, 9.3], [105.501, 9.301]]), "longitude 205.5 is outside"),
        (poly([[105.5, 95.0], [105.501, 9.3], [105.501, 9.301]]), "latitude 95.0 is outside"),
        (poly([[9.3, 105.5], [9.3, 105.501], [9.301, 105.501]]), "lon and lat swapped"),
        (
            poly([[105.5, 9.2], [105.7, 9.2], [105.5, 9.4], [105.7, 9.4], [105.5, 9.2]]),
            "Self-intersection[105.6 9.3]",
        ),
        (poly([[105.5, 9.3], [105.501, 9.3], [105.502, 9.3]]), "zero area"),
        (poly([[105.0, 9.0], [106.0, 9.0], [106.0, 10.0], [105.0, 10.0]]), "more than the 10,000"),
    ],
)
def test_parse_polygon_rejects(geometry, message):
    with pytest.raises(InvalidGeometry) as err:
        parse_polygon(geometry)
    assert message in str(err.value)


def test_parse_polygon_rejects_invalid_hole():
    outer = [[105.5, 9.3], [105.51, 9.3], [105.51, 9.31], [105.5, 9.31]]
    hole_outside = [[105.52, 9.3], [105.53, 9.3], [105.53, 9.31], [105.52, 9.31]]
    with pytest.raises(InvalidGeometry, match="invalid Polygon: Hole lies outside shell"):
        parse_polygon({"type": "Polygon", "coordinates": [outer, hole_outside]})


def test_parse_polygon_max_area_is_adjustable():
    big = poly([[105.0, 9.0], [106.0, 9.0], [106.0, 10.0], [105.0, 10.0]])
    assert area_ha(parse_polygon(big, max_area_ha=2_000_000)) > 1_000_000


# ------------------------------------------------------------------------------ measurement


def measure(mission: dict, fields=None, **kwargs) -> Application:
    if fields is None:
        fields = [("F1", field_wgs84())]
    return measure_application(**mission, fields=fields, **kwargs)


def test_lawnmower_covers_field_exactly():
    app = measure(lawnmower())
    spraying_minutes = 10 * 40 / 60  # 10 passes of 200 m at 5 m/s
    expected_amount = FLOW * spraying_minutes

    assert app.epsg == EPSG
    assert app.sprayed_area_m2 == pytest.approx(20_000.0, rel=0.01)
    assert app.sprayed_area_m2 == pytest.approx(20_000.0, rel=1e-6)  # flat ends tile exactly
    assert app.treated_area_m2 == pytest.approx(20_000.0, rel=1e-6)
    assert app.overspray_area_m2 == pytest.approx(0.0, abs=1e-3)
    assert app.overlap_area_m2 == pytest.approx(0.0, abs=1e-3)
    assert app.applied_amount == pytest.approx(expected_amount, rel=1e-6)
    assert app.amount_outside_fields == pytest.approx(0.0, abs=1e-9)
    assert app.skipped_stretches == 0
    assert app.sprayed_area_ha == pytest.approx(2.0, rel=1e-6)

    (f,) = app.fields
    assert f.key == "F1"
    assert f.field_area_m2 == pytest.approx(20_000.0, rel=1e-9)
    assert f.coverage_pct == pytest.approx(100.0, rel=0.01)
    assert f.applied_amount == pytest.approx(expected_amount, rel=1e-6)
    assert f.dose_per_ha == pytest.approx(expected_amount / 2.0, rel=1e-6)
    assert app.footprint_wgs84 is not None
    assert area_ha(app.footprint_wgs84) == pytest.approx(2.0, rel=1e-6)
    assert len(app.runs_wgs84) == 10  # one polygon per pass


def test_half_the_passes_give_half_coverage_and_same_dose():
    app = measure(lawnmower(passes=5))
    (f,) = app.fields
    assert f.coverage_pct == pytest.approx(50.0, rel=1e-6)
    assert f.dose_per_ha == pytest.approx(FLOW * 200 / SPEED / 60 * 5 / 1.0, rel=1e-6)


def test_overrun_at_both_ends_is_overspray():
    app = measure(lawnmower(overrun=20.0))
    overspray = 10 * 2 * 20.0 * SWATH
    assert app.sprayed_area_m2 == pytest.approx(20_000.0 + overspray, rel=1e-6)
    assert app.treated_area_m2 == pytest.approx(20_000.0, rel=1e-6)
    assert app.overspray_area_m2 == pytest.approx(overspray, rel=1e-6)
    total = FLOW * 10 * 48 / 60  # 240 m passes at 5 m/s
    assert app.applied_amount == pytest.approx(total, rel=1e-6)
    # Application is uniform along a pass, so 40 of every 240 m falls outside.
    assert app.amount_outside_fields == pytest.approx(total * 40 / 240, rel=1e-6)
    (f,) = app.fields
    assert f.applied_amount == pytest.approx(total * 200 / 240, rel=1e-6)
    assert f.coverage_pct == pytest.approx(100.0, rel=1e-6)


def test_two_identical_passes_overlap_by_one_pass():
    legs = [
        ((5.0, 0.0), (5.0, 200.0), True),
        ((5.0, 200.0), (5.0, 0.0), False),  # fly back with the applicator off
        ((5.0, 0.0), (5.0, 200.0), True),
    ]
    app = measure(fly(legs))
    one_pass = 200.0 * SWATH
    assert len(app.runs_wgs84) == 2
    assert app.sprayed_area_m2 == pytest.approx(one_pass, rel=1e-6)
    assert app.overlap_area_m2 == pytest.approx(one_pass, rel=1e-6)
    (f,) = app.fields
    assert f.treated_area_m2 == pytest.approx(one_pass, rel=1e-6)
    assert f.dose_per_ha == pytest.approx(2 * FLOW * 40 / 60 / (one_pass / 10_000), rel=1e-6)


def test_sprayed_turn_is_one_joined_polygon_without_double_counting():
    # An L-shaped run: 100 m north, then 100 m east, applicator on throughout.
    legs = [((0.0, 0.0), (0.0, 100.0), True), ((0.0, 100.0), (100.0, 100.0), True)]
    app = measure(fly(legs), fields=[])
    h = SWATH / 2
    # Two rectangles, minus their shared inner corner square, plus the round outer join.
    expected = 2 * 100.0 * SWATH - h * h + math.pi * h * h / 4
    assert len(app.runs_wgs84) == 1
    assert app.sprayed_area_m2 == pytest.approx(expected, rel=1e-3)
    assert app.overlap_area_m2 == pytest.approx(0.0, abs=1e-6)
    assert app.overspray_area_m2 == pytest.approx(app.sprayed_area_m2)
    assert app.amount_outside_fields == pytest.approx(app.applied_amount)
    assert app.fields == []


def test_mitre_join_fills_the_outer_corner_square():
    legs = [((0.0, 0.0), (0.0, 100.0), True), ((0.0, 100.0), (100.0, 100.0), True)]
    app = measure(fly(legs), fields=[], join_style="mitre")
    assert app.sprayed_area_m2 == pytest.approx(2 * 100.0 * SWATH, rel=1e-9)


def test_swath_change_mid_run_tiles_and_joins():
    legs = [((0.0, 0.0), (0.0, 100.0), True), ((0.0, 100.0), (100.0, 100.0), True)]
    mission = fly(legs)
    mission["swath_m"] = np.where(np.arange(mission["lon"].size) < 10, 6.0, SWATH)
    app = measure(mission, fields=[], join_style="mitre")
    # 50 m at 6 m, then 50 m + 100 m at 10 m, mitred corner: the corner square is counted once.
    expected = 50 * 6.0 + 50 * SWATH + 100 * SWATH
    assert len(app.runs_wgs84) == 1
    assert app.sprayed_area_m2 == pytest.approx(expected, rel=1e-9)


def test_pass_through_zone_with_buffer():
    # One pass along x = 0 (strip x in [-5, 5]) past a zone x in [3, 30], y in [100, 110].
    legs = [((0.0, 0.0), (0.0, 200.0), True)]
    zone = to_wgs84(box(X0 + 3, Y0 + 100, X0 + 30, Y0 + 110), EPSG)
    far = to_wgs84(box(X0 + 50, Y0 + 100, X0 + 60, Y0 + 110), EPSG)
    app = measure(fly(legs), zones=[("canal", zone, 4.0), ("house", far, 4.0)])
    # Inside the strip the buffered zone is: x in [3, 5] full height 10 + 2*4; x in [-1, 3]
    # the rounded corners, height 10 + 2*sqrt(16 - u^2).
    expected = 2 * 18.0 + 4 * 10.0 + 2 * (math.pi * 16 / 4)
    (hit,) = app.zones
    assert hit.key == "canal"
    assert hit.area_m2 == pytest.approx(expected, rel=0.005)  # arcs are polygonised
    amount_per_m2 = app.applied_amount / (200.0 * SWATH)
    assert hit.amount == pytest.approx(amount_per_m2 * hit.area_m2, rel=1e-6)


def test_zone_buffers_mapping_overrides_tuple_buffer():
    legs = [((0.0, 0.0), (0.0, 200.0), True)]
    zone = to_wgs84(box(X0 - 15, Y0 + 100, X0 + 15, Y0 + 110), EPSG)
    app = measure(fly(legs), zones=[("pond", zone)], zone_buffers={"pond": 5.0})
    (hit,) = app.zones
    assert hit.area_m2 == pytest.approx(SWATH * 20.0, rel=1e-6)  # strip x zone grown to 20 m
    assert hit.area_ha == pytest.approx(SWATH * 20.0 / 10_000, rel=1e-6)


def test_hover_amount_goes_to_the_field_under_it():
    mission = fly([((50.0, 100.0), (50.0, 110.0), False)])
    n = mission["lon"].size
    # Hover 10 s at the first fix, spraying, then fly on with the applicator off.
    for key in ("lon", "lat"):
        mission[key] = np.concatenate((np.full(10, mission[key][0]), mission[key]))
    mission["t"] = 1_700_000_000.0 + np.arange(n + 10)
    mission["spraying"] = np.concatenate((np.ones(10, bool), np.zeros(n, bool)))
    mission["rate"] = np.full(n + 10, FLOW)
    mission["swath_m"] = np.full(n + 10, SWATH)
    app = measure(mission)
    assert app.sprayed_area_m2 == 0.0
    assert app.footprint_wgs84 is None
    assert app.applied_amount == pytest.approx(FLOW * 10 / 60, rel=1e-9)
    (f,) = app.fields
    assert f.applied_amount == pytest.approx(FLOW * 10 / 60, rel=1e-9)
    assert f.treated_area_m2 == 0.0
    assert f.dose_per_ha is None
    assert app.amount_outside_fields == 0.0


def test_gaps_jumps_and_missing_rates_are_not_counted():
    mission = lawnmower(passes=1)
    t = mission["t"].copy()
    t[21:] += 60.0  # a 61 s link loss in the middle of the pass
    mission["t"] = t
    lon = mission["lon"].copy()
    lon[30] += 0.01  # a ~1 km GNSS jump: two stretches at ~1 km/s
    mission["lon"] = lon
    rate = mission["rate"].astype(object)
    rate[5] = None
    rate[6] = math.nan
    mission["rate"] = rate
    app = measure(mission)
    # 40 stretches, minus the gap, the two jump stretches, and two with no rate.
    assert app.skipped_stretches == 3
    assert app.applied_amount == pytest.approx(FLOW * (40 - 3 - 2) / 60, rel=1e-9)
    assert app.sprayed_area_m2 == pytest.approx((40 - 3) * SWATH * SPEED, rel=1e-6)
    assert app.amount_outside_fields == pytest.approx(0.0, abs=1e-9)


def test_max_gap_is_a_keyword():
    mission = lawnmower(passes=1)
    mission["t"] = 1_700_000_000.0 + np.arange(mission["lon"].size) * 40.0
    assert measure(mission).applied_amount == 0.0
    app = measure(mission, max_gap_s=60.0)  # 0.125 m/s is slow but believable
    assert app.applied_amount == pytest.approx(FLOW * 40 * 40 / 60, rel=1e-9)


def test_field_across_two_fields_splits_amount_and_area():
    mission = lawnmower()
    left = ("L", field_wgs84(width=40.0))
    right = ("R", field_wgs84(x_min=40.0, width=60.0))
    untouched = ("far", field_wgs84(x_min=500.0))
    app = measure(mission, fields=[untouched, left, right])
    assert [f.key for f in app.fields] == ["L", "R"]
    total = FLOW * 10 * 40 / 60
    by_key = {f.key: f for f in app.fields}
    assert by_key["L"].applied_amount == pytest.approx(total * 0.4, rel=1e-6)
    assert by_key["R"].applied_amount == pytest.approx(total * 0.6, rel=1e-6)
    assert by_key["L"].coverage_pct == pytest.approx(100.0, rel=1e-6)
    assert app.treated_area_m2 == pytest.approx(20_000.0, rel=1e-6)
    assert app.amount_outside_fields == pytest.approx(0.0, abs=1e-9)


def test_overlapping_field_polygons_do_not_double_count_totals():
    mission = lawnmower(overrun=20.0)
    a = ("A", field_wgs84())
    b = ("A-duplicate", field_wgs84(y_min=100.0))  # overlaps the top half of A
    app = measure(mission, fields=[a, b])
    assert app.treated_area_m2 == pytest.approx(20_000.0 + 10 * 20 * SWATH, rel=1e-6)
    total = FLOW * 10 * 48 / 60
    assert app.amount_outside_fields == pytest.approx(total * 20 / 240, rel=1e-6)


def test_single_fix_and_mismatched_lengths():
    one = {k: v[:1] for k, v in lawnmower(passes=1).items()}
    app = measure(one)
    assert app.applied_amount == 0.0
    assert app.fields == []
    bad = lawnmower(passes=1)
    bad["t"] = bad["t"][:-1]
    with pytest.raises(ValueError, match="t must be 1-D"):
        measure(bad)


def test_scalar_swath_and_rate():
    mission = lawnmower()
    mission["swath_m"] = SWATH
    mission["rate"] = FLOW
    assert measure(mission).sprayed_area_m2 == pytest.approx(20_000.0, rel=1e-6)


def _grid_fields(nx: int = 15, ny: int = 20, w: float = 50.0, h: float = 100.0):
    return [
        (f"P{i}-{j}", field_wgs84(x_min=i * w, y_min=j * h, width=w, height=h))
        for i in range(nx)
        for j in range(ny)
    ]


def test_noisy_20_minute_mission_over_300_fields_adds_up():
    # A 20-minute 1 Hz mission with GNSS noise over a block of 300 paddies (its
    # speed is measured in bench/geo_measure.py): per-field results must add up.
    rng = np.random.default_rng(7)
    legs = []
    for j in range(6):
        xc = 3.0 + j * 6.0
        ya, yb = (0.0, 1000.0) if j % 2 == 0 else (1000.0, 0.0)
        legs.append(((xc, ya), (xc, yb), True))
        legs.append(((xc, yb), (xc + 6.0, yb), False))
    mission = fly(legs, speed=5.0)
    n = 1200
    mission = {k: np.resize(v, n) for k, v in mission.items()}
    mission["t"] = 1_700_000_000.0 + np.arange(n)
    mission["lon"] = mission["lon"] + rng.normal(0, 3e-6, n)
    mission["lat"] = mission["lat"] + rng.normal(0, 3e-6, n)
    fields = _grid_fields()
    assert len(fields) == 300
    result = measure(mission, fields=fields)
    assert len(result.fields) > 10
    per_field = sum(f.treated_area_m2 for f in result.fields)
    assert per_field == pytest.approx(result.treated_area_m2, rel=1e-6)
    amount_in = sum(f.applied_amount for f in result.fields)
    assert amount_in + result.amount_outside_fields == pytest.approx(
        result.applied_amount, rel=1e-6
    )


def test_swath_jitter_within_tolerance_keeps_exact_area():
    mission = fly([((0.0, 0.0), (0.0, 200.0), True)])
    n = mission["lon"].size
    widths = np.where(np.arange(n) % 2 == 0, 6.0, 6.08)  # an altitude-derived wobble
    mission["swath_m"] = widths
    app = measure(mission, fields=[])
    expected = float((widths[:-1] * SPEED).sum())  # sum of the stretch rectangles
    assert len(app.runs_wgs84) == 1
    assert app.sprayed_area_m2 == pytest.approx(expected, rel=1e-9)
    exact = measure(mission, fields=[], swath_tol_m=0.0)
    assert exact.sprayed_area_m2 == pytest.approx(expected, rel=1e-9)


def test_nan_fixes_are_ignored_and_break_runs():
    mission = lawnmower(passes=1)
    lat = mission["lat"].copy()
    lat[10] = math.nan
    mission["lat"] = lat
    app = measure(mission)
    assert app.skipped_stretches == 2  # the stretches into and out of the bad fix
    assert app.sprayed_area_m2 == pytest.approx(38 * SPEED * SWATH, rel=1e-6)
    assert len(app.runs_wgs84) == 2


def test_nothing_sprayed():
    mission = lawnmower(passes=2)
    mission["spraying"] = np.zeros(mission["lon"].size, dtype=bool)
    app = measure(mission)
    assert app.sprayed_area_m2 == 0.0
    assert app.applied_amount == 0.0
    assert app.fields == [] and app.zones == []
    assert app.footprint_wgs84 is None
    assert app.runs_wgs84 == ()


@pytest.mark.parametrize(
    "kwargs", [{"join_style": "square"}, {"max_gap_s": -1.0}, {"swath_tol_m": math.nan}]
)
def test_bad_options_are_rejected(kwargs):
    with pytest.raises(ValueError):
        measure(lawnmower(passes=1), **kwargs)


def test_bbox_then_measure_selects_the_field():
    mission = lawnmower()
    min_lon, min_lat, max_lon, max_lat = bbox_wgs84(mission["lon"], mission["lat"], 20.0)
    candidates = [
        (k, p)
        for k, p in [("F1", field_wgs84()), ("far", field_wgs84(x_min=1000.0))]
        if p.intersects(box(min_lon, min_lat, max_lon, max_lat))
    ]
    assert [k for k, _ in candidates] == ["F1"]
    assert measure(mission, fields=candidates).fields[0].coverage_pct == pytest.approx(100.0)
