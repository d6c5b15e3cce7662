"""The staff pages over HTTP: sign-in cookie, office dashboard, operator's day, cooperative.

The world is test_maps's: M1 (1.82 ha of F1 treated on Sunday 1 March 2026, 08:00 in
Vietnam, 10.8 % overspray) and M2 (nothing on a field, 739 m² in zone Z1, at 10:00) of
drone D1 of service S; hand sprays in communes 31825 (2.0 ha on Mon 2 March, 1.5 ha on
Mon 9 March) and 31834 (1.0 ha on Tue 3 March, 4.0 ha on Fri 1 May).
"""

import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from tests.test_maps import build_communes, build_flown
from traceability.api.routes import staff_pages
from traceability.models import Farmer, FarmField, Mission
from traceability.services.common import LOCAL_TZ


@pytest.fixture
def world(session, factory):
    service = build_flown(session, factory)
    build_communes(factory)
    return service


def _bars(html: str, chart_id: str) -> dict[str, float]:
    svg = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', html, re.S).group(0)
    root = ET.fromstring(svg)
    return {
        r.get("data-label"): float(r.get("data-value"))
        for r in root.iter("{http://www.w3.org/2000/svg}rect")
        if r.get("class") == "bar"
    }


def test_signing_in_sets_an_httponly_cookie_that_opens_the_pages(client, factory):
    office = factory.token("office")["Authorization"].split()[1]
    r = client.post("/signin", data={"token": office}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/office/"
    cookie = r.headers["set-cookie"]
    assert "agritrace_staff=" in cookie and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower() and "Path=/" in cookie
    assert client.get("/office/").status_code == 200  # the cookie alone
    assert client.get("/operator/").status_code == 403
    client.post("/signout", follow_redirects=False)
    client.cookies.clear()
    assert client.get("/office/").status_code == 401


def test_sign_in_refuses_bad_and_farmer_tokens_and_open_redirects(client, factory):
    r = client.post("/signin", data={"token": "nope"})
    assert r.status_code == 401 and "không hợp lệ" in r.text
    farmer = factory.token("farmer", factory.farmer())["Authorization"].split()[1]
    r = client.post("/signin", data={"token": farmer, "lang": "en"})
    assert r.status_code == 401 and "farmers use /app/" in r.text
    operator = factory.token("operator")["Authorization"].split()[1]
    r = client.post(
        "/signin", data={"token": operator, "next": "//evil.example"}, follow_redirects=False
    )
    assert r.headers["location"] == "/operator/"


def test_office_dashboard_figures(client, world, factory):
    office = factory.token("office")
    html = client.get("/office/", headers=office).text
    # Hectares per ISO week, worked out from the dates above.
    assert _bars(html, "chart-week") == pytest.approx(
        {"2026-W09": 1.82, "2026-W10": 3.0, "2026-W11": 1.5, "2026-W18": 4.0}, abs=0.011
    )
    communes = _bars(html, "chart-commune")
    assert communes["phường Bạc Liêu"] == pytest.approx(3.5)
    assert communes["phường Vĩnh Trạch"] == pytest.approx(5.0)
    # The commune map, inline, with one circle per commune treated.
    assert html.count('data-commune="31825" data-hectares') == 1
    # Flagged missions link to their maps; M2 reached a no-spray zone.
    flagged = html[html.index('id="flagged"') :]
    assert "/api/v1/missions/M1/map.svg" in flagged and "/api/v1/missions/M2/map.svg" in flagged
    assert "Vùng cấm phun" in flagged and "Phun ra ngoài" in flagged
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_office_dashboard_period_and_downloads(client, world, factory):
    office = factory.token("office")
    params = {"from": "2026-03-02", "to": "2026-03-08", "lang": "en"}
    html = client.get("/office/", headers=office, params=params).text
    assert _bars(html, "chart-week") == pytest.approx({"2026-W10": 3.0})
    assert "Hectares treated per week" in html and "No flagged mission." in html
    link = re.search(r'href="(/office/reports/province\?[^"]*format=xlsx)"', html).group(1)
    r = client.get(link.replace("&amp;", "&"), headers=office)
    assert r.status_code == 200 and "province.xlsx" in r.headers["content-disposition"]
    frame = pd.read_excel(io.BytesIO(r.content))
    hectares = frame[frame["part"] == "hectares"]
    assert hectares["treated_area_ha"].sum() == pytest.approx(3.0)
    r = client.get("/office/", headers=office, params={"from": "2026-03-09", "to": "2026-03-01"})
    assert r.status_code == 422 and "after" in r.json()["detail"]


def test_operator_day(client, world, factory):
    own = factory.token("operator", organisation=world)
    html = client.get("/operator/", headers=own, params={"day": "2026-03-01"}).text
    assert html.count('class="card mission"') == 2
    assert "08:00 – " in html and "10:00 – " in html  # Vietnam time
    assert 'id="drone-D1"' in html
    # Numbers as the farmers' app and the trace page write them: Vietnamese comma decimals.
    assert "<td>1,82 ha</td>" in html and "<td>1.82 ha</td>" not in html
    english = client.get("/operator/", headers=own, params={"day": "2026-03-01", "lang": "en"})
    assert "<td>1.82 ha</td>" in english.text
    # Each mission's own map, drawn 360 px wide, as an image the browser asks for once
    # scrolled near: the page itself carries no map and measures no track.
    maps = re.findall(
        r'<img src="(/api/v1/missions/[^"]+/map\.svg\?width=360)" loading="lazy"', html
    )
    assert len(maps) == 2 and '<g id="swath"' not in html
    drawn = [client.get(url.replace("&amp;", "&"), headers=own) for url in maps]
    assert [r.status_code for r in drawn] == [200, 200]
    assert all(r.text.count('<g id="swath"') == 1 for r in drawn)
    assert all('width="360"' in r.text for r in drawn)
    assert any("Vùng cấm phun" in r.text for r in drawn)
    assert any("1.82 ha" in r.text for r in drawn)  # the map's subtitle
    assert "lang=en" in re.search(r'<img src="([^"]+)"', english.text).group(1)
    assert "day=2026-02-28" in html and "day=2026-03-02" in html
    other = factory.token("operator")
    html = client.get("/operator/", headers=other, params={"day": "2026-03-01"}).text
    assert 'class="card mission"' not in html and "Không có lượt bay" in html
    r = client.get("/operator/", headers=own, params={"day": "01-03-2026"})
    assert r.status_code == 422


def test_operator_day_shows_the_product_applied_the_tank_mix_apart_and_the_fixes_times(
    client, session, factory
):
    service = factory.organisation("drone_service")
    factory.drone(code="D-MIX", organisation=service)
    session.add(
        Mission(
            mission_id="M-MIX",
            drone_code="D-MIX",
            type="spray",
            product_code="NOMINEE10SC",
            status="complete",
            started_at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
            ended_at=datetime(2026, 3, 1, 1, 20, tzinfo=UTC),
            first_fix_at=datetime(2026, 3, 1, 1, 5, tzinfo=UTC),
            last_fix_at=datetime(2026, 3, 1, 1, 18, tzinfo=UTC),
            applied_amount=49.89,
            amount_unit="L",
            product_per_unit=0.35 / 49.89,
            product_amount=0.35,
            product_unit="L",
            treated_area_ha=2.5,
            dirty=False,
        )
    )
    session.commit()
    own = factory.token("operator", organisation=service)
    # Figures in each language's own decimals: a comma in Vietnamese, a point in English.
    for lang, product, mix, applied, sprayed in (
        ("vi", "Lượng thuốc", "Hỗn hợp phun", "0,35", "49,89"),
        ("en", "Product applied", "Tank mix sprayed", "0.35", "49.89"),
    ):
        html = client.get(
            "/operator/", headers=own, params={"day": "2026-03-01", "lang": lang}
        ).text
        assert re.search(
            rf"<th>{product}</th><td data-product-amount>{applied} L NOMINEE10SC</td>", html
        )
        assert re.search(rf"<th>{mix}</th><td data-tank-mix>{sprayed} L</td>", html)
        assert f"{sprayed} L NOMINEE10SC" not in html
        assert "08:05 – 08:18" in html  # the fixes' own times, not the events'


def test_operator_day_pages(client, world, factory, monkeypatch):
    monkeypatch.setattr(staff_pages, "DAY_PAGE", 1)
    own = factory.token("operator", organisation=world)
    first = client.get("/operator/", headers=own, params={"day": "2026-03-01"}).text
    assert first.count('class="card mission"') == 1 and 'id="mission-M1"' in first
    assert "offset=1" in first
    second = client.get("/operator/", headers=own, params={"day": "2026-03-01", "offset": 1})
    assert 'id="mission-M2"' in second.text and "offset=0" in second.text


def test_cooperative_page_pending_phi_and_signin_links(client, session, factory):
    coop = factory.organisation("cooperative")
    member = factory.farmer(organisation=coop, name="Lê Thị Sáu")
    factory.farmer(name="Người ngoài")
    field = factory.field(farmer=member, code="HTX-1")
    factory.season(field, sown_on=datetime.now(LOCAL_TZ).date() - timedelta(days=50))
    product = factory.input(code="PHI14", phi_days=14, name="Thuốc cách ly 14 ngày")
    sprayed = datetime.now(LOCAL_TZ).replace(hour=7, minute=0, second=0, microsecond=0)
    sprayed -= timedelta(days=3)
    factory.entry(
        field, activity="spray", input_code=product.code, quantity=0.2, unit="L",
        area_ha=1.0, occurred_at=sprayed,
    )  # fmt: skip
    headers = factory.token("cooperative", organisation=coop)
    html = client.get("/coop/", headers=headers).text
    assert "Lê Thị Sáu" in html and "Người ngoài" not in html and "HTX-1" in html
    assert "09123456" not in html  # no phone numbers on the page
    safe_on = (sprayed.date() + timedelta(days=14)).strftime("%d/%m/%Y")
    phi = html[html.index('id="pending-phi"') :]
    assert html.count('class="phi"') == 1 and safe_on in phi and "HTX-1" in phi
    r = client.post("/coop/signin-link", headers=headers, data={"farmer_id": member.id})
    assert r.status_code == 200
    url = re.search(r'<code class="link">([^<]+)</code>', r.text).group(1)
    token = url.rsplit("/", 1)[1]
    assert client.get(f"/app/signin/{token}").status_code == 200  # the link works
    stranger = session.execute(select(Farmer).where(Farmer.name == "Người ngoài")).scalar_one()
    r = client.post("/coop/signin-link", headers=headers, data={"farmer_id": stranger.id})
    assert r.status_code == 403
    assert session.execute(select(FarmField).where(FarmField.code == "HTX-1")).scalar_one()
    # Harvested since (today, PHI broken): the page no longer says "harvest from ...".
    factory.lot(fields_=[field], harvested_on=datetime.now(LOCAL_TZ).date())
    html = client.get("/coop/", headers=headers).text
    phi = html[html.index('id="pending-phi"') :]
    assert 'class="phi"' not in html and safe_on not in phi


def test_the_cookie_opens_pages_and_maps_but_not_the_json_api(client, world, factory):
    operator = factory.token("operator", organisation=world)["Authorization"].split()[1]
    client.post("/signin", data={"token": operator}, follow_redirects=False)
    assert client.get("/api/v1/missions/M1/map.svg").status_code == 200
    assert client.get("/api/v1/missions/M1/map.png").status_code == 200
    assert client.get("/api/v1/missions/M1").status_code == 401
    assert client.get("/api/v1/maps/communes.svg").status_code == 403  # office's
    client.cookies.clear()
    assert client.get("/api/v1/missions/M1/map.svg").status_code == 401


def test_operator_day_says_where_each_mission_came_from(client, session, world, factory):
    from traceability.models import Mission, MissionSource

    m2 = session.execute(select(Mission).where(Mission.mission_id == "M2")).scalar_one()
    m2.source = MissionSource.mavlink
    session.commit()
    own = factory.token("operator", organisation=world)
    html = client.get("/operator/", headers=own, params={"day": "2026-03-01"}).text
    m1 = html[html.index('id="mission-M1"') : html.index('id="mission-M2"')]
    assert "Nguồn dữ liệu" in m1 and "MQTT / nhật ký agritrace" in m1
    assert "MAVLink (ArduPilot, PX4)" in html[html.index('id="mission-M2"') :]
    en = client.get("/operator/", headers=own, params={"day": "2026-03-01", "lang": "en"}).text
    assert "Record from" in en and "MQTT / agritrace log" in en


def test_rows_of_a_list_of_fields_on_either_database(session, factory):
    """The fields named (bound as one array on PostgreSQL, one by one on SQLite), and only
    those: the rows the cooperative's pending PHI reads."""
    from sqlalchemy import select

    from traceability.models import DiaryEntry
    from traceability.services import applications

    fields = [factory.field() for _ in range(3)]
    for f in fields:
        factory.entry(f, activity="observe")
    session.commit()
    conn = session.connection()
    wanted = [fields[0].id, fields[2].id]
    stmt = select(DiaryEntry.field_id).where(applications.of_fields(conn, DiaryEntry.field_id))
    assert sorted(conn.execute(stmt, {"ids": wanted}).scalars()) == sorted(wanted)
    assert list(conn.execute(stmt, {"ids": []}).scalars()) == []
