"""Screenshots of the pages at 360 px, in Vietnamese and English, taken from a running demo.

    ./run demo --no-day --port 8671 --database-url sqlite:////tmp/screens.db
    .venv/bin/python tools/screens.py --base-url http://localhost:8671 --admin-token TOKEN

With the demo's admin token (printed when it is ready) it records, through the API, one
farmer of the demo's cooperative with four fields whose lots show each trace verdict:
PHI respected, PHI not respected, a banned product, and a harvest dated before a spray
already recorded. Then it signs in as that farmer (the app's lots tab, a field's form
with its planned harvest, the warnings before saving, with and without signal), as the
cooperative, the drone service's operator and the office (its flagged missions and its
pesticides' registration numbers), and opens /signin; each page is written to
``docs/screens/<page>-<lang>.png``. Run it again on a new demo database to retake them.
"""

import argparse
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from playwright.sync_api import sync_playwright

from traceability.services.common import LOCAL_TZ

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 360, "height": 740}
LOCALES = {"vi": "vi-VN", "en": "en-GB"}
# Well east of the demo's fields, so that the new ones overlap none of them.
LON0, LAT0 = 105.60, 9.30


def square(i: int) -> list[list[float]]:
    """A field of about 1 ha (100 m a side), the ``i``-th along the row."""
    x, y, d = LON0 + i * 0.002, LAT0, 0.0009
    return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]


def post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A record made through the API; any refusal stops the run with its reason."""
    r = api.post(f"/api/v1/{path}", json=body)
    if r.status_code not in (200, 201):
        raise SystemExit(f"POST {path}: {r.status_code} {r.text}")
    return r.json()


def record(api: httpx.Client, today: date) -> dict[str, Any]:
    """The farmer, fields, seasons, sprays and lots of the trace scenarios."""
    tag = secrets.token_hex(2).upper()
    member = {"name": "Nguyễn Văn Ba", "village": "Ấp 3, xã Phong Thạnh"}
    farmer = post(api, "farmers", member | {"organisation_code": "HTX-DEMO"})
    day = lambda n: (today - timedelta(days=n)).isoformat()  # noqa: E731
    # (field name, sprays as (product, days before today), harvest days before today)
    scenarios = {
        "compliant": ("Ruộng ông Ba – thửa 1", [("TILTSUPER300EC", 40)], 10),
        "not-compliant": ("Ruộng ông Ba – thửa 2", [("TILTSUPER300EC", 13)], 10),
        "banned": ("Ruộng ông Ba – thửa 3", [("FURADAN3GR", 60)], 10),
        "backdated": ("Ruộng ông Ba – thửa 4", [("TILTSUPER300EC", 5)], 6),
    }
    out: dict[str, Any] = {"farmer": farmer, "lots": {}, "fields": {}}
    for i, (name, (title, sprays, harvest)) in enumerate(scenarios.items()):
        code = f"SCR-{tag}-{i + 1}"
        feature = {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [square(i)]},
            "properties": {"code": code, "farmer_id": farmer["id"], "name": title,
                           "commune_code": "31951"},
        }  # fmt: skip
        post(api, "fields", feature)
        post(api, "seasons", {"field_code": code, "crop": "lúa", "variety": "ST25",
                              "sown_on": day(100), "planned_harvest_on": day(harvest)})  # fmt: skip
        for product, before in sprays:
            post(api, "diary", {"field_code": code, "activity": "spray", "input_code": product,
                                "quantity": 0.3, "area_ha": 1.0,
                                "occurred_at": f"{day(before)}T07:30:00+07:00"})  # fmt: skip
        lot = post(api, "lots", {"code": f"LOT-{tag}-{i + 1}", "field_codes": [code],
                                 "harvested_on": day(harvest), "quantity_kg": 5200.0,
                                 "product_name": "Gạo ST25"})  # fmt: skip
        out["lots"][name] = lot["code"]
        out["fields"][name] = code
    # A season still under way, harvest planned in 5 days: what the warnings are about.
    code = f"SCR-{tag}-5"
    feature = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [square(4)]},
        "properties": {"code": code, "farmer_id": farmer["id"], "name": "Ruộng ông Ba – thửa 5",
                       "commune_code": "31951"},
    }  # fmt: skip
    post(api, "fields", feature)
    post(api, "seasons", {"field_code": code, "crop": "lúa", "variety": "ST25",
                          "sown_on": day(90), "planned_harvest_on": day(-5)})  # fmt: skip
    out["fields"]["growing"] = code
    return out


def staff_token(api: httpx.Client, role: str, organisation: str) -> str:
    """A new staff user of ``organisation`` and their token."""
    return post(api, "users", {"name": f"{role} (ảnh chụp)", "role": role,
                               "organisation_code": organisation})["token"]  # fmt: skip


def shot(page, out: Path, name: str) -> None:
    """The whole page at 360 px, the app's sticky tab bar where it ends up."""
    page.add_style_tag(content="nav.tabs{position:static}")
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(out / f"{name}.png")


def take(base: str, admin_token: str, out: Path) -> None:
    """Record the scenarios and take every screenshot."""
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin_token}"})
    today = datetime.now(LOCAL_TZ).date()
    world = record(api, today)
    orgs = {o["kind"]: o["code"] for o in api.get("/api/v1/organisations").json()["data"]}
    if "office" not in orgs:
        post(api, "organisations", {"code": "SNN-CAMAU", "name": "Chi cục Trồng trọt và BVTV",
                                    "kind": "office"})  # fmt: skip
        orgs["office"] = "SNN-CAMAU"
    tokens = {
        "coop": staff_token(api, "cooperative", orgs["cooperative"]),
        "operator": staff_token(api, "operator", orgs["drone_service"]),
        "office": staff_token(api, "office", orgs["office"]),
    }
    # The operator's page opens on the day of the newest mission (the demo's clock runs
    # apart from the calendar).
    flown = api.get("/api/v1/missions", params={"limit": 500}).json()["data"]
    newest = max((m["started_at"] for m in flown if m["started_at"]), default=None)
    day_of: dict[str, dict[str, str]] = {"coop": {}, "office": {}, "operator": {}}
    if newest:
        when = datetime.fromisoformat(newest.replace("Z", "+00:00")).astimezone(LOCAL_TZ)
        day_of["operator"] = {"day": when.date().isoformat()}
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for lang, locale in LOCALES.items():
            ctx = browser.new_context(viewport=PHONE, locale=locale,
                                      timezone_id="Asia/Ho_Chi_Minh")  # fmt: skip
            page = ctx.new_page()
            q = "?lang=en" if lang == "en" else ""
            for name, code in world["lots"].items():
                page.goto(f"{base}/t/{code}{q}")
                shot(page, out, f"trace-{name}-{lang}")
            # The farmer's app, signed in with a one-time link.
            link = post(api, f"farmers/{world['farmer']['id']}/signin-link", {})["url"]
            page.goto(link)
            page.wait_for_url(f"{base}/app/**")
            page.goto(f"{base}/app/lots{q}")
            shot(page, out, f"app-lots-{lang}")
            page.goto(f"{base}/app/fields/{world['fields']['growing']}{q}")
            shot(page, out, f"app-field-{lang}")
            page.goto(f"{base}/app/new?field={world['fields']['compliant']}"
                      f"{'&lang=en' if lang == 'en' else ''}")  # fmt: skip
            page.locator("input[name=activity][value=spray]").check(force=True)
            page.locator("#q").fill("tilt")
            page.locator("#quantity").fill("0,6" if lang == "vi" else "0.6")
            when = today - timedelta(days=12)
            page.locator("#occurred_at").fill(f"{when.isoformat()}T08:00")
            page.locator("#warnings .changes_harvested_lot").wait_for()
            shot(page, out, f"app-warning-{lang}")
            ctx.set_offline(True)
            page.locator("#quantity").fill("0,5" if lang == "vi" else "0.5")
            page.wait_for_timeout(600)
            page.locator("#warnings .changes_harvested_lot").wait_for()
            shot(page, out, f"app-warning-offline-{lang}")
            ctx.set_offline(False)
            # Staff pages, each signed in at /signin with its token.
            for role, path in (("coop", "/coop/"), ("operator", "/operator/"),
                               ("office", "/office/")):  # fmt: skip
                page.goto(f"{base}/signin{q}")
                if role == "coop":
                    shot(page, out, f"signin-{lang}")
                page.locator("input[name=token]").fill(tokens[role])
                page.locator("form[action='/signin'] button[type=submit]").click()
                page.wait_for_load_state()
                params = {"lang": "en"} if lang == "en" else {}
                page.goto(f"{base}{path}?{urlencode(params | day_of[role])}")
                shot(page, out, f"{role}-{lang}")
                page.context.clear_cookies()
            ctx.close()
        browser.close()


def main() -> None:
    """Parse the arguments and take the screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--admin-token", required=True)
    ap.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "docs" / "screens")
    args = ap.parse_args()
    take(args.base_url.rstrip("/"), args.admin_token, args.out)


if __name__ == "__main__":
    main()
