"""The number helpers of the maps and charts over their whole input range.

A class break that never came back for a top value in (8, 20) × 10ⁿ once pinned a worker
for good on every office dashboard: each helper is called here on any float (Hypothesis,
repeatable) under an alarm, so a search that fails to end fails the test instead of
hanging the suite.
"""

import math
import signal
from contextlib import contextmanager
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import svgread
from tests.factories import rectangle_lonlat
from traceability.maps.charts import bar_chart
from traceability.maps.communes import MAX_R, Commune, class_breaks, class_of, communes_svg, radius
from traceability.maps.svg import nice_ceiling, nice_length

API = "/api/v1"
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
#: Positive floats far enough from the ends of the range for a round step to exist.
POSITIVE = st.floats(min_value=1e-290, max_value=1e290)
SETTINGS = settings(max_examples=400, derandomize=True, deadline=None, database=None)


@contextmanager
def within(seconds: float):
    """Raise TimeoutError if the block runs longer than ``seconds`` (main thread only)."""

    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _is_round(x: float) -> bool:
    """``x`` is 1, 2 or 5 × 10ⁿ (to float precision)."""
    mantissa = x / 10.0 ** math.floor(math.log10(x))
    return any(math.isclose(mantissa, m, rel_tol=1e-9) for m in (1.0, 2.0, 5.0, 10.0))


@pytest.mark.parametrize("top", [9.0, 15.0, 150.0, 8.5, 19.99, 1.5e-5, 1.2e7, 80.0000001])
def test_class_breaks_end_for_the_values_that_once_hung(top):
    # By hand: a quarter of the top, rounded up to 1, 2 or 5 × 10ⁿ, times 1..4.
    step = {9.0: 5.0, 15.0: 5.0, 150.0: 50.0, 8.5: 5.0, 19.99: 5.0}.get(top)
    with within(2.0):
        breaks = class_breaks(top)
    assert breaks[-1] >= top
    if step is not None:
        assert breaks == [step, 2 * step, 3 * step, 4 * step]


@SETTINGS
@given(top=ANY_FLOAT, n=st.integers(min_value=1, max_value=12))
def test_class_breaks_always_end_increasing_and_cover_the_top(top, n):
    with within(1.0):
        breaks = class_breaks(top, n)
    assert len(breaks) == n
    assert all(math.isfinite(b) and b > 0 for b in breaks)
    assert all(a < b for a, b in zip(breaks, breaks[1:], strict=False))
    if math.isfinite(top) and top > 0:
        assert breaks[-1] >= min(top, 1e300)
    else:
        assert breaks[0] == 1.0


@SETTINGS
@given(top=POSITIVE)
def test_class_breaks_are_round_and_tight(top):
    breaks = class_breaks(top)
    step = breaks[0]
    assert _is_round(step)
    # The shortest round step: the next one down (5 → 2, 2 → 1, 1 → 0.5) would not reach.
    mantissa = step / 10.0 ** math.floor(math.log10(step))
    below = step / (2.5 if math.isclose(mantissa, 5.0) else 2.0)
    assert below * 4 < top * (1 + 1e-9)
    assert breaks[-1] <= 2.5 * top * (1 + 1e-9)


@SETTINGS
@given(x=ANY_FLOAT)
def test_nice_length_and_ceiling_bracket_any_float(x):
    with within(1.0):
        low, high = nice_length(x), nice_ceiling(x)
    assert math.isfinite(low) and low > 0 and math.isfinite(high) and high > 0
    if math.isfinite(x) and 1e-300 < x < 1e300:
        assert low <= x <= high
        assert _is_round(low) and _is_round(high)
        assert x / low < 2.5 * (1 + 1e-9) and high / x < 2.5 * (1 + 1e-9)


@SETTINGS
@given(hectares=st.floats(min_value=0, max_value=1e12), top=st.floats(min_value=0, max_value=1e12))
def test_radius_and_class_of_stay_in_range(hectares, top):
    breaks = class_breaks(top)
    assert 0 <= class_of(hectares, breaks) < len(breaks)
    r = radius(hectares, breaks[-1])
    assert math.isfinite(r) and r >= 0
    if hectares <= breaks[-1]:
        assert r <= MAX_R * (1 + 1e-9)


@SETTINGS
@given(values=st.lists(st.floats(min_value=0, max_value=1e9), max_size=6))
def test_bar_chart_draws_any_values(values):
    with within(1.0):
        svg = bar_chart([(f"x{i}", v) for i, v in enumerate(values)], chart_id="c", title="t")
    root = svgread.parse(svg)
    widths = [float(r.get("width")) for r in root.iter() if r.get("class") == "bar"]
    assert len(widths) == len(values)
    assert all(math.isfinite(w) and 1.0 <= w <= 340.0 for w in widths)


@pytest.mark.parametrize("hectares", [9.0, 15.0, 150.0])
def test_the_commune_map_draws_a_top_of(hectares):
    field = rectangle_lonlat(0, 0, 100, 200)
    with within(5.0):
        svg = communes_svg([Commune("31825", "Bạc Liêu", [field], hectares)])
    circle = next(c for c in svgread.features(svgread.parse(svg), "communes"))
    assert float(circle.get("data-hectares")) == pytest.approx(hectares)
    assert float(circle.get("r")) == pytest.approx(
        MAX_R * math.sqrt(hectares / (4 * {9.0: 5.0, 15.0: 5.0, 150.0: 50.0}[hectares])), abs=0.01
    )


def test_the_office_dashboard_answers_with_nine_hectares_treated(client, factory, admin_headers):
    """9 ha treated in one commune: the office's map and dashboard answer (they hung)."""
    product = factory.input(code="P9")
    field = factory.field(code="N1", x0=5000, commune_code="31825")
    factory.entry(
        field, activity="spray", input_code=product.code, quantity=0.5, unit="L",
        area_ha=9.0, occurred_at=datetime.fromisoformat("2026-03-02T07:00:00+07:00"),
    )  # fmt: skip
    with within(20.0):
        svg = client.get(f"{API}/maps/communes.svg", headers=admin_headers)
        page = client.get("/office/", headers=factory.token("office"))
    assert svg.status_code == 200, svg.text
    circle = next(c for c in svgread.features(svgread.parse(svg.text), "communes"))
    assert float(circle.get("data-hectares")) == pytest.approx(9.0)
    assert page.status_code == 200, page.text[:200]
    assert "31825" in page.text or "commune" in page.text.lower()


@pytest.mark.parametrize("top", [2.2250738585e-313, 5e-324, 1e-301])
def test_class_breaks_cover_a_subnormal_top(top):
    # Found by Hypothesis: a subnormal top divided by n and multiplied back fell short.
    breaks = class_breaks(top)
    assert breaks[-1] >= top and all(a < b for a, b in zip(breaks, breaks[1:], strict=False))
