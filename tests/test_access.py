"""Who may do what: every route of the application × every role, written out by hand.

The world: two cooperatives (A, B) each with one member farmer and one field, two drone
services (A, B) each with one drone, drone A's mission over farmer A's field, and the
agriculture office. Every route is called on farmer A's records (field A, its diary
entry, season and lot, mission A, drone A) by: nobody, farmer A ("farmer"), farmer B
("other farmer"), cooperative A and B, operator A and B, the office and an admin.
"""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import text

from tests import pngs
from tests.factories import feature, rectangle_lonlat
from tests.record_helpers import API
from traceability import transparency
from traceability.models import (
    IngestReject,
    Mission,
    MissionField,
    MissionStatus,
    Role,
    User,
    ZoneCreate,
)
from traceability.services import signin, tlog, users, zones

ROLES = (
    "anonymous",
    "farmer",
    "other_farmer",
    "cooperative",
    "other_cooperative",
    "operator",
    "other_operator",
    "office",
    "admin",
)
_n = itertools.count(1)


@dataclass
class World:
    """The records the table's routes are called on, and a token per role."""

    farmer_a: object
    farmer_b: object
    coop_a: object
    field_a: object
    season: object
    entry: object
    lot: object
    product: object
    drone_a: object
    mission: str
    zone: str
    farmer_user_id: int
    spare_token_id: int
    signin_token: str
    device_id: int
    headers: dict[str, dict[str, str]]

    def url(self, path: str) -> str:
        return (
            path.replace("{farmer_id}", str(self.farmer_a.id))
            .replace("{entry_id}", str(self.entry.id))
            .replace("{season_id}", str(self.season.id))
            .replace("{mission_id}", self.mission)
            .replace("{user_id}", str(self.farmer_user_id))
            .replace("{token_id}", str(self.spare_token_id))
            .replace("{gtin}", self.lot.gtin)
            .replace("{token}", self.signin_token)
            .replace("{device_id}", str(self.device_id))
            .replace("/app/static/{name}", "/app/static/app.css")
            .replace("/docs/static/{name}", "/docs/static/swagger-ui.css")
            .replace("{lot}", self.lot.code)
            .replace("{serial}", "BAG-1")
            .replace("{rest:path}", f"/{self.lot.gtin}/10/L1/22/V1")
            .replace("{ai}", "21")
            .replace("/tlog/tile/{level}/{path:path}", "/tlog/tile/0/000.p/1")
            .replace("/tlog/tile/entries/{path:path}", "/tlog/tile/entries/000.p/1")
            .replace("{value}", "S-1")
            .replace("{name}", "missions")
            .replace("{code}", self._code_for(path))
        )

    def _code_for(self, path: str) -> str:
        # "{code}" names a different record on each collection.
        for prefix, code in (
            ("/api/v1/inputs/", self.product.code),
            ("/office/products/", self.product.code),
            ("/api/v1/drones/", self.drone_a.code),
            ("/api/v1/fields/", self.field_a.code),
            ("/app/fields/", self.field_a.code),
            ("/api/v1/lots/", self.lot.code),
            ("/api/v1/trace/", self.lot.code),
            ("/t/", self.lot.code),
            ("/api/v1/zones/", self.zone),
            ("/api/v1/organisations/", self.coop_a.code),
            ("/api/v1/admin-units/", "31825"),
        ):
            if path.startswith(prefix):
                return code
        return "?"


# ---------------------------------------------------------------- request bodies


def _field(w: World) -> dict:
    n = next(_n)
    return {
        "json": feature(f"NEW-{n}", w.farmer_a.id, rectangle_lonlat(40_000 + n * 300.0, 0, 90, 90))
    }


def _fields(w: World) -> dict:
    return {"json": {"type": "FeatureCollection", "features": [_field(w)["json"]]}}


def _zone(w: World) -> dict:
    n = next(_n)
    return {
        "json": {
            "type": "Feature",
            "geometry": rectangle_lonlat(-5_000 - n * 100.0, 0, 20, 20).__geo_interface__,
            "properties": {"code": f"Z-NEW-{n}", "kind": "house", "buffer_m": 5},
        }
    }


def _log(w: World) -> dict:
    n = next(_n)
    point = {
        "mission_id": f"LOG-{n}",
        "seq": 900_000 + n,
        "ts": "2026-03-01T08:00:00+07:00",
        "lat": 9.2,
        "lon": 105.4,
        "spraying": False,
    }
    return {
        "files": {"file": ("flight.jsonl", orjson.dumps(point), "application/x-ndjson")},
        "data": {"drone": w.drone_a.code},
    }


BODIES = {
    ("GET", "/api/v1/transparency/consistency"): lambda w: {"params": {"from": 1}},
    ("GET", "/api/v1/transparency/inclusion"): lambda w: {"params": {"index": 0}},
    ("POST", "/api/v1/farmers"): lambda w: {"json": {"name": f"Thành viên {next(_n)}"}},
    ("POST", "/api/v1/inputs"): lambda w: {
        "json": {"code": f"IN-{next(_n)}", "name": "x", "kind": "fertilizer", "unit": "kg"}
    },
    ("POST", "/api/v1/drones"): lambda w: {"json": {"code": f"DR-{next(_n)}"}},
    ("POST", "/api/v1/users"): lambda w: {
        "json": {"name": "new", "role": "farmer", "farmer_id": w.farmer_a.id}
    },
    ("POST", "/api/v1/fields"): _field,
    ("POST", "/api/v1/fields/import"): _fields,
    ("POST", "/api/v1/seasons"): lambda w: {
        "json": {"field_code": w.field_a.code, "crop": "lúa", "sown_on": "2026-06-01"}
    },
    ("PATCH", "/api/v1/seasons/{season_id}"): lambda w: {
        "json": {"planned_harvest_on": w.season.sown_on.isoformat()}
    },
    ("POST", "/app/fields/{code}/planned-harvest"): lambda w: {"data": {"planned_harvest_on": ""}},
    ("PUT", "/api/v1/seasons/{season_id}/pre-season"): lambda w: {
        "json": {"pre_season_water": "non_flooded_lt_180d"}
    },
    ("POST", "/app/fields/{code}/pre-season"): lambda w: {"data": {"pre_season_water": ""}},
    ("POST", "/api/v1/diary"): lambda w: {
        "json": {
            "field_code": w.field_a.code,
            "occurred_at": "2026-02-02T08:00:00+07:00",
            "activity": "observe",
        }
    },
    ("POST", "/api/v1/lots"): lambda w: {
        "json": {
            "code": f"LOT-NEW-{next(_n)}",
            "field_codes": [w.field_a.code],
            "harvested_on": "2026-04-10",
            "quantity_kg": 100.0,
            "product_name": "Lúa",
        }
    },
    ("POST", "/api/v1/ingest/logs"): _log,
    ("POST", "/api/v1/zones"): _zone,
    ("POST", "/api/v1/zones/import"): lambda w: {
        "json": {"type": "FeatureCollection", "features": [_zone(w)["json"]]}
    },
    ("PUT", "/api/v1/lots/{code}/image"): lambda w: {"content": pngs.gray([[0, 255]])},
    ("PATCH", "/api/v1/organisations/{code}"): lambda w: {"json": {"brand": "Gạo Vĩnh Hậu"}},
    ("POST", "/api/v1/organisations"): lambda w: {
        "json": {"code": f"ORG-NEW-{next(_n)}", "name": "HTX Mới", "kind": "cooperative"}
    },
    ("POST", "/api/v1/users/{user_id}/tokens"): lambda w: {"json": {}},
    ("POST", "/api/v1/diary/check"): lambda w: {
        "json": {
            "field_code": w.field_a.code,
            "occurred_at": "2026-02-01T08:00:00+07:00",
            "activity": "observe",
        }
    },
    # A spent or unknown link: the world's own link stays valid for the other routes.
    ("POST", "/app/signin"): lambda w: {"data": {"token": "not-a-link"}},
    ("POST", "/app/signout"): lambda w: {"follow_redirects": False},
    ("POST", "/api/v1/lots/{code}/amendments/{entry_id}/accept"): lambda w: {
        "json": {"reason": "checked against the sprayer's invoice"}
    },
    ("POST", "/signin"): lambda w: {"data": {"token": "not-a-token"}},
    ("POST", "/signout"): lambda w: {"follow_redirects": False},
    ("POST", "/coop/signin-link"): lambda w: {"data": {"farmer_id": str(w.farmer_a.id)}},
    ("PATCH", "/api/v1/inputs/{code}"): lambda w: {"json": {"registration_no": "SĐK-001"}},
    ("POST", "/office/products/{code}/registration"): lambda w: {
        "data": {"registration_no": "SĐK-001"},
        "follow_redirects": False,
    },
}

# ---------------------------------------------------------------- the table
# Columns: anonymous, farmer, other farmer, cooperative, other cooperative, operator,
# other operator, office, admin. Changes to diaries are refused to everyone (405): an
# entry is corrected by a new one, never edited.
# fmt: off
EXPECTED = {
    # the record: farmers, inputs, drones, users
    ("POST",   "/api/v1/farmers"):                      "401 403 403 201 201 403 403 403 201",
    ("GET",    "/api/v1/farmers"):                      "401 200 200 200 200 403 403 200 200",
    ("GET",    "/api/v1/farmers/{farmer_id}"):          "401 200 403 200 403 403 403 200 200",
    ("POST",   "/api/v1/inputs"):                       "401 403 403 403 403 403 403 403 201",
    ("GET",    "/api/v1/inputs"):                       "401 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/inputs/{code}"):                "401 200 200 200 200 200 200 200 200",
    # the one record the office writes: a product's registration number
    ("PATCH",  "/api/v1/inputs/{code}"):                "401 403 403 403 403 403 403 200 200",
    ("POST",   "/api/v1/drones"):                       "401 403 403 403 403 201 201 403 201",
    ("GET",    "/api/v1/drones"):                       "401 403 403 403 403 200 200 200 200",
    ("GET",    "/api/v1/drones/{code}"):                "401 403 403 403 403 200 403 200 200",
    ("POST",   "/api/v1/users"):                        "401 403 403 403 403 403 403 403 201",
    ("GET",    "/api/v1/users"):                        "401 403 403 403 403 403 403 403 200",
    ("GET",    "/api/v1/me"):                           "401 200 200 200 200 200 200 200 200",
    # fields and seasons
    ("POST",   "/api/v1/fields"):                       "401 403 403 201 403 403 403 403 201",
    ("POST",   "/api/v1/fields/import"):                "401 403 403 201 403 403 403 403 201",
    ("GET",    "/api/v1/fields"):                       "401 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/fields/{code}"):                "401 200 200 200 200 200 200 200 200",
    ("POST",   "/api/v1/seasons"):                      "401 201 403 201 403 403 403 403 201",
    ("GET",    "/api/v1/seasons"):                      "401 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/seasons/{season_id}"):          "401 200 200 200 200 200 200 200 200",
    ("PATCH",  "/api/v1/seasons/{season_id}"):          "401 200 403 200 403 403 403 403 200",
    ("PUT",    "/api/v1/seasons/{season_id}/pre-season"): "401 200 403 200 403 403 403 403 200",
    # diaries (operators read them without notes)
    ("POST",   "/api/v1/diary"):                        "401 201 403 403 403 403 403 403 201",
    ("GET",    "/api/v1/diary"):                        "401 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/diary/{entry_id}"):             "401 200 403 200 403 200 200 200 200",
    ("GET",    "/api/v1/fields/{code}/diary"):          "401 200 403 200 403 200 200 200 200",
    ("GET",    "/api/v1/fields/{code}/diary/verify"):   "401 200 403 200 403 200 200 200 200",
    ("GET",    "/api/v1/fields/{code}/map.svg"):        "401 200 403 200 403 200 200 200 200",
    ("GET",    "/api/v1/fields/{code}/map.png"):        "401 200 403 200 403 200 200 200 200",
    ("PUT",    "/api/v1/diary"):                        "405 405 405 405 405 405 405 405 405",
    ("PATCH",  "/api/v1/diary"):                        "405 405 405 405 405 405 405 405 405",
    ("DELETE", "/api/v1/diary"):                        "405 405 405 405 405 405 405 405 405",
    ("PUT",    "/api/v1/diary/{entry_id}"):             "405 405 405 405 405 405 405 405 405",
    ("PATCH",  "/api/v1/diary/{entry_id}"):             "405 405 405 405 405 405 405 405 405",
    ("DELETE", "/api/v1/diary/{entry_id}"):             "405 405 405 405 405 405 405 405 405",
    ("PUT",    "/api/v1/fields/{code}/diary"):          "405 405 405 405 405 405 405 405 405",
    ("PATCH",  "/api/v1/fields/{code}/diary"):          "405 405 405 405 405 405 405 405 405",
    ("DELETE", "/api/v1/fields/{code}/diary"):          "405 405 405 405 405 405 405 405 405",
    # lots
    ("POST",   "/api/v1/lots"):                         "401 201 403 201 403 403 403 403 201",
    ("GET",    "/api/v1/lots"):                         "401 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/lots/{code}"):                  "401 200 200 200 200 200 200 200 200",
    # a lot's photo: whoever may record lots on its fields
    ("PUT",    "/api/v1/lots/{code}/image"):            "401 204 403 204 403 403 403 403 204",
    # the certifying body's reviewer (admin); the world's entry is no amendment of its lot
    ("POST",   "/api/v1/lots/{code}/amendments/{entry_id}/accept"):
                                                        "401 403 403 403 403 403 403 403 422",
    # missions, ingest, zones, reports
    ("GET",    "/api/v1/missions"):                     "401 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/missions/{mission_id}"):        "401 200 403 200 403 200 403 200 200",
    ("GET",    "/api/v1/missions/{mission_id}/geojson"):"401 200 403 200 403 200 403 200 200",
    ("GET",    "/api/v1/missions/{mission_id}/map.svg"):"401 200 403 200 403 200 403 200 200",
    ("GET",    "/api/v1/missions/{mission_id}/map.png"):"401 200 403 200 403 200 403 200 200",
    ("GET",    "/api/v1/ingest/rejects"):               "401 403 403 403 403 200 200 200 200",
    ("POST",   "/api/v1/ingest/logs"):                  "401 403 403 403 403 200 403 403 200",
    ("POST",   "/api/v1/zones"):                        "401 403 403 403 403 403 403 403 201",
    ("POST",   "/api/v1/zones/import"):                 "401 403 403 403 403 403 403 403 201",
    ("GET",    "/api/v1/zones"):                        "401 403 403 403 403 200 200 200 200",
    ("GET",    "/api/v1/zones/{code}"):                 "401 403 403 403 403 200 200 200 200",
    # /reports/missions here; every report by role in REPORTS_BY_ROLE below
    ("GET",    "/api/v1/reports/low-emission-rice/references"):
               "401 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/reports/{name}"):               "401 403 403 403 403 200 200 200 200",
    ("GET",    "/api/v1/maps/communes.svg"):            "401 403 403 403 403 403 403 200 200",
    # organisations, tokens, administrative units
    ("POST",   "/api/v1/organisations"):                "401 403 403 403 403 403 403 403 201",
    ("GET",    "/api/v1/organisations"):                "401 200 200 200 200 200 200 200 200",
    # a cooperative's public facts (address, brand, certificate): itself or the admin
    ("PATCH",  "/api/v1/organisations/{code}"):         "401 403 403 200 403 403 403 403 200",
    ("GET",    "/api/v1/organisations/{code}"):         "401 200 200 200 200 200 200 200 200",
    ("POST",   "/api/v1/users/{user_id}/tokens"):       "401 403 403 403 403 403 403 403 201",
    ("GET",    "/api/v1/tokens"):                       "401 200 200 200 200 200 200 200 200",
    ("DELETE", "/api/v1/tokens/{token_id}"):            "401 200 403 403 403 403 403 403 200",
    ("GET",    "/api/v1/admin-units"):                  "401 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/admin-units/{code}"):           "401 200 200 200 200 200 200 200 200",
    # the public trace: everyone (the resolver's 307 to the trace page is followed)
    ("GET",    "/api/v1/trace/{code}"):                 "200 200 200 200 200 200 200 200 200",
    ("GET",    "/t/{code}"):                            "200 200 200 200 200 200 200 200 200",
    ("HEAD",   "/api/v1/trace/{code}"):                 "200 200 200 200 200 200 200 200 200",
    ("HEAD",   "/t/{code}"):                            "200 200 200 200 200 200 200 200 200",
    ("GET",    "/01/{gtin}/10/{lot}"):                  "200 200 200 200 200 200 200 200 200",
    ("HEAD",   "/01/{gtin}/10/{lot}"):                  "200 200 200 200 200 200 200 200 200",
    ("OPTIONS", "/01/{gtin}/10/{lot}"):                 "204 204 204 204 204 204 204 204 204",
    ("GET",    "/01/{gtin}/10/{lot}/21/{serial}"):      "200 200 200 200 200 200 200 200 200",
    ("HEAD",   "/01/{gtin}/10/{lot}/21/{serial}"):      "200 200 200 200 200 200 200 200 200",
    ("OPTIONS", "/01/{gtin}/10/{lot}/21/{serial}"):     "204 204 204 204 204 204 204 204 204",
    # a serialised item the record does not know, a GTIN alone: valid, and not found
    ("GET",    "/01/{gtin}/21/{serial}"):               "404 404 404 404 404 404 404 404 404",
    ("HEAD",   "/01/{gtin}/21/{serial}"):               "404 404 404 404 404 404 404 404 404",
    ("OPTIONS", "/01/{gtin}/21/{serial}"):              "204 204 204 204 204 204 204 204 204",
    ("GET",    "/01/{gtin}"):                           "404 404 404 404 404 404 404 404 404",
    ("HEAD",   "/01/{gtin}"):                           "404 404 404 404 404 404 404 404 404",
    ("OPTIONS", "/01/{gtin}"):                          "204 204 204 204 204 204 204 204 204",
    # any other path under /01 (here a lot before the variant, AI 22): the resolver's 400
    ("GET",    "/01{rest:path}"):                       "400 400 400 400 400 400 400 400 400",
    ("HEAD",   "/01{rest:path}"):                       "400 400 400 400 400 400 400 400 400",
    ("OPTIONS", "/01{rest:path}"):                      "204 204 204 204 204 204 204 204 204",
    ("GET",    "/.well-known/gs1resolver"):             "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/lots/{code}/qr.png"):           "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/lots/{code}/qr.svg"):           "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/lots/{code}/label"):            "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/lots/{code}/epcis"):            "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/lots/{code}/image"):            "200 200 200 200 200 200 200 200 200",
    # the transparency log: public, as a checkpoint is only worth the copies people keep
    ("GET",    "/api/v1/transparency/checkpoint"):      "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/transparency/checkpoints"):     "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/fields/{code}/inclusion"):      "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/transparency/vkey"):            "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/transparency/consistency"):     "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/transparency/inclusion"):       "200 200 200 200 200 200 200 200 200",
    ("GET",    "/tlog/checkpoint"):                     "200 200 200 200 200 200 200 200 200",
    ("GET",    "/api/v1/lots/{code}/proof"):            "200 200 200 200 200 200 200 200 200",
    ("GET",    "/tlog/tile/{level}/{path:path}"):            "200 200 200 200 200 200 200 200 200",
    ("GET",    "/tlog/tile/entries/{path:path}"):            "200 200 200 200 200 200 200 200 200",
    # the farmers' app: sign-in links and phones are the farmer's cooperative's to manage
    ("POST",   "/api/v1/farmers/{farmer_id}/signin-link"): "401 403 403 201 403 403 403 403 201",
    ("GET",    "/api/v1/farmers/{farmer_id}/devices"):  "401 403 403 200 403 403 403 200 200",
    ("DELETE", "/api/v1/farmers/{farmer_id}/devices/{device_id}"):
                                                        "401 403 403 204 403 403 403 403 204",
    ("POST",   "/api/v1/diary/check"):                  "401 200 403 403 403 403 403 403 200",
    # its pages need the phone's device cookie, not a bearer token
    ("GET",    "/app"):                                 "401 401 401 401 401 401 401 401 401",
    ("GET",    "/app/"):                                "401 401 401 401 401 401 401 401 401",
    ("GET",    "/app/diary"):                           "401 401 401 401 401 401 401 401 401",
    ("GET",    "/app/fields/{code}"):                   "401 401 401 401 401 401 401 401 401",
    ("POST",   "/app/fields/{code}/planned-harvest"):   "401 401 401 401 401 401 401 401 401",
    ("POST",   "/app/fields/{code}/pre-season"):        "401 401 401 401 401 401 401 401 401",
    ("GET",    "/app/lots"):                            "401 401 401 401 401 401 401 401 401",
    ("GET",    "/app/new"):                             "401 401 401 401 401 401 401 401 401",
    ("GET",    "/app/manifest.webmanifest"):            "200 200 200 200 200 200 200 200 200",
    ("GET",    "/app/sw.js"):                           "200 200 200 200 200 200 200 200 200",
    ("GET",    "/app/static/{name}"):                   "200 200 200 200 200 200 200 200 200",
    ("GET",    "/app/signin/{token}"):                  "200 200 200 200 200 200 200 200 200",
    ("GET",    "/app/signin/{token}/qr.png"):           "200 200 200 200 200 200 200 200 200",
    ("GET",    "/app/signin/{token}/qr.svg"):           "200 200 200 200 200 200 200 200 200",
    ("POST",   "/app/signin"):                          "410 410 410 410 410 410 410 410 410",
    ("POST",   "/app/signout"):                         "303 303 303 303 303 303 303 303 303",
    # the staff pages: an API token as a bearer header or as the staff cookie (/signin)
    ("GET",    "/signin"):                              "200 200 200 200 200 200 200 200 200",
    ("POST",   "/signin"):                              "401 401 401 401 401 401 401 401 401",
    ("POST",   "/signout"):                             "303 303 303 303 303 303 303 303 303",
    ("GET",    "/office/"):                             "401 403 403 403 403 403 403 200 200",
    ("GET",    "/office/reports/{name}"):               "401 403 403 403 403 403 403 200 200",
    ("GET",    "/operator/"):                           "401 403 403 403 403 200 200 403 200",
    ("GET",    "/coop/"):                               "401 403 403 200 200 403 403 403 200",
    ("GET",    "/mrv/"):                                "401 403 403 200 200 403 403 200 200",
    ("POST",   "/coop/signin-link"):                    "401 403 403 200 403 403 403 403 200",
    ("POST",   "/office/products/{code}/registration"): "401 403 403 403 403 403 403 303 303",
    # health and the API's own documentation
    ("GET",    "/"):                                    "200 200 200 200 200 200 200 200 200",
    ("GET",    "/healthz"):                             "200 200 200 200 200 200 200 200 200",
    ("GET",    "/readyz"):                              "200 200 200 200 200 200 200 200 200",
    ("GET",    "/metrics"):                             "401 403 403 403 403 403 403 200 200",
    ("GET",    "/openapi.json"):                        "200 200 200 200 200 200 200 200 200",
    ("HEAD",   "/openapi.json"):                        "200 200 200 200 200 200 200 200 200",
    ("GET",    "/docs"):                                "200 200 200 200 200 200 200 200 200",
    ("HEAD",   "/docs"):                                "200 200 200 200 200 200 200 200 200",
    ("GET",    "/docs/try"):                            "200 200 200 200 200 200 200 200 200",
    ("HEAD",   "/docs/try"):                            "200 200 200 200 200 200 200 200 200",
    ("GET",    "/docs/oauth2-redirect"):                "200 200 200 200 200 200 200 200 200",
    ("HEAD",   "/docs/oauth2-redirect"):                "200 200 200 200 200 200 200 200 200",
    ("GET",    "/docs/static/{name}"):                  "200 200 200 200 200 200 200 200 200",
    ("HEAD",   "/docs/static/{name}"):                  "200 200 200 200 200 200 200 200 200",
}
# fmt: on


def app_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the application answers, routers included."""
    found = set()
    stack = list(app.routes)
    while stack:
        route = stack.pop()
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # an included router (FastAPI ≥ 0.120)
            stack.extend(contexts())
            continue
        path = getattr(route, "path", None)
        for method in getattr(route, "methods", None) or ():
            found.add((method, path))
    return found


def test_table_covers_every_route_of_the_app(client):
    routes = app_routes(client.app)
    assert routes - set(EXPECTED) == set(), "routes missing from the table"
    assert set(EXPECTED) - routes == set(), "the table names routes the app does not have"
    for expected in EXPECTED.values():
        assert len(expected.split()) == len(ROLES)


@pytest.fixture
def world(factory, session) -> World:
    coop_a, coop_b = factory.organisation("cooperative"), factory.organisation("cooperative")
    service_a = factory.organisation("drone_service")
    service_b = factory.organisation("drone_service")
    farmer_a = factory.farmer(organisation=coop_a)
    farmer_b = factory.farmer(organisation=coop_b)
    field_a, field_b = factory.field(farmer=farmer_a), factory.field(farmer=farmer_b)
    season = factory.season(field_a)
    entry = factory.entry(field_a, note="thuốc mua ở tiệm chú Tư, nợ 2 triệu")
    factory.entry(field_b, note="của B")
    lot = factory.lot(fields_=[field_a], gtin="8934567890120")
    drone_a = factory.drone(organisation=service_a)
    drone_b = factory.drone(organisation=service_b)
    for mission_id, drone, field in (("MA", drone_a, field_a), ("MB", drone_b, field_b)):
        mission = Mission(
            mission_id=mission_id,
            drone_code=drone.code,
            drone_id=drone.id,
            status=MissionStatus.complete,
            started_at=datetime(2026, 2, 3, 1, tzinfo=UTC),
            ended_at=datetime(2026, 2, 3, 2, tzinfo=UTC),
            dirty=False,
        )
        session.add(mission)
        session.flush()
        session.add(
            MissionField(
                mission_pk=mission.id,
                field_id=field.id,
                treated_area_ha=1.0,
                coverage_pct=90.0,
                applied_amount=10.0,
            )
        )
        session.add(
            IngestReject(topic=f"agri/drones/{drone.code}/telemetry", payload="x", reason="bad")
        )
    session.commit()
    zone = _zone(None)["json"]
    zones.create_zone(session, feature=ZoneCreate.model_validate(zone))
    tlog.publish(session, key=transparency.new_key(), origin="test/diaries")

    headers = {
        "anonymous": {},
        "farmer": factory.token("farmer", farmer_a),
        "other_farmer": factory.token("farmer", farmer_b),
        "cooperative": factory.token("cooperative", organisation=coop_a),
        "other_cooperative": factory.token("cooperative", organisation=coop_b),
        "operator": factory.token("operator", organisation=service_a),
        "other_operator": factory.token("operator", organisation=service_b),
        "office": factory.token("office"),
        "admin": factory.token("admin"),
    }
    farmer_user = session.exec(
        text("SELECT id FROM users WHERE farmer_id = :f").bindparams(f=farmer_a.id)
    ).scalar_one()
    spare, _secret = users.issue_token(session, user_id=farmer_user)
    admin = User(id=None, name="admin", role=Role.admin)
    _link, signin_token = signin.issue_link(
        session, farmer_id=farmer_a.id, user=admin, valid_hours=1
    )
    _spent, device_link = signin.issue_link(
        session, farmer_id=farmer_a.id, user=admin, valid_hours=1
    )
    device, _device_token = signin.redeem(session, token=device_link)
    return World(
        farmer_a=farmer_a,
        farmer_b=farmer_b,
        coop_a=coop_a,
        field_a=field_a,
        season=season,
        entry=entry,
        lot=lot,
        product=factory.input(),
        drone_a=drone_a,
        mission="MA",
        zone=zone["properties"]["code"],
        farmer_user_id=farmer_user,
        spare_token_id=spare.id,
        signin_token=signin_token,
        device_id=device.id,
        headers=headers,
    )


@pytest.mark.parametrize(
    ("method", "path"), sorted(EXPECTED), ids=[f"{m} {p}" for m, p in sorted(EXPECTED)]
)
def test_route_by_role(client, world, method, path):
    wrong = []
    for role, expected in zip(ROLES, EXPECTED[(method, path)].split(), strict=True):
        body = BODIES.get((method, path), lambda w: {})(world)
        r = client.request(method, world.url(path), headers=world.headers[role], **body)
        if r.status_code != int(expected):
            wrong.append(f"{role}: {r.status_code} (expected {expected}) {r.text[:160]}")
        elif r.status_code in (401, 403) and r.headers["content-type"].startswith(
            "application/json"
        ):
            assert r.json()["detail"], r.text  # a refusal says why
    assert not wrong, f"{method} {path}: " + "; ".join(wrong)


# ---------------------------------------------------------------- what each role sees


def _seen(client, world, role, path, key="mission_id"):
    r = client.get(API + path, headers=world.headers[role])
    assert r.status_code == 200, r.text
    return sorted(x[key] for x in r.json()["data"])


def test_who_sees_which_missions(client, world):
    expected = {
        "farmer": ["MA"],
        "other_farmer": ["MB"],
        "cooperative": ["MA"],
        "other_cooperative": ["MB"],
        "operator": ["MA"],
        "other_operator": ["MB"],
        "office": ["MA", "MB"],
        "admin": ["MA", "MB"],
    }
    for role, missions in expected.items():
        assert _seen(client, world, role, "/missions") == missions, role
        r = client.get(f"{API}/missions", headers=world.headers[role]).json()
        assert r["count"] == len(missions), role


def test_who_sees_which_drones_and_rejects(client, world):
    assert _seen(client, world, "operator", "/drones", "code") == [world.drone_a.code]
    assert len(_seen(client, world, "office", "/drones", "code")) == 2
    for role, count in (("operator", 1), ("other_operator", 1), ("office", 2), ("admin", 2)):
        body = client.get(f"{API}/ingest/rejects", headers=world.headers[role]).json()
        assert body["total"] == count, role
    mine = client.get(f"{API}/ingest/rejects", headers=world.headers["operator"]).json()
    assert world.drone_a.code in mine["items"][0]["topic"]


def test_who_sees_which_farmers_and_diaries(client, world):
    assert _seen(client, world, "cooperative", "/farmers", "id") == [world.farmer_a.id]
    assert _seen(client, world, "farmer", "/farmers", "id") == [world.farmer_a.id]
    assert len(_seen(client, world, "office", "/farmers", "id")) == 2
    fields_of = {
        role: {e["field_code"] for e in client.get(f"{API}/diary", headers=h).json()["data"]}
        for role, h in world.headers.items()
        if role != "anonymous"
    }
    assert fields_of["farmer"] == fields_of["cooperative"] == {world.field_a.code}
    assert len(fields_of["office"]) == len(fields_of["operator"]) == 2


def test_operators_do_not_read_diary_notes(client, world):
    note = "thuốc mua ở tiệm chú Tư, nợ 2 triệu"
    for role in ("farmer", "cooperative", "office", "admin"):
        r = client.get(f"{API}/diary/{world.entry.id}", headers=world.headers[role])
        assert r.json()["note"] == note, role
    operator = world.headers["operator"]
    one = client.get(f"{API}/diary/{world.entry.id}", headers=operator).json()
    listed = client.get(f"{API}/diary", headers=operator).json()["data"]
    of_field = client.get(f"{API}/fields/{world.field_a.code}/diary", headers=operator).json()
    assert one["note"] is None and one["hash"] and one["activity"] == "observe"
    assert [e["note"] for e in listed] == [None, None]
    assert [e["note"] for e in of_field["data"]] == [None]
    assert note not in client.get(f"{API}/diary?view=all", headers=operator).text
    # Nor the people a farmer names: the supplier, the buyer, who applied.
    r = client.post(
        f"{API}/diary",
        json={
            "field_code": world.field_a.code,
            "occurred_at": "2026-02-02T08:00:00+07:00",
            "activity": "purchase",
            "counterparty": "Đại lý Chú Tư",
            "applied_by": "anh Hai",
        },
        headers=world.headers["farmer"],
    )
    assert r.status_code == 201, r.text
    named = client.get(f"{API}/diary/{r.json()['id']}", headers=operator).json()
    assert named["counterparty"] is None and named["applied_by"] is None
    assert "Chú Tư" not in client.get(f"{API}/diary?view=all", headers=operator).text
    coop = client.get(f"{API}/diary/{r.json()['id']}", headers=world.headers["cooperative"])
    assert coop.json()["counterparty"] == "Đại lý Chú Tư"
    # The chain still verifies: the note is hidden from the operator, not changed.
    verify = client.get(f"{API}/fields/{world.field_a.code}/diary/verify", headers=operator)
    assert verify.json()["valid"] is True


# The one record the office keeps itself: a product's registration number, read from its
# label (through the API, and from the office's page).
OFFICE_WRITES = {
    ("PATCH", "/api/v1/inputs/{code}"),
    ("POST", "/office/products/{code}/registration"),
}


def test_office_writes_nothing_but_registration_numbers(client, world):
    office = world.headers["office"]
    for (method, path), expected in EXPECTED.items():
        # /app/signin, /app/signout, /signin and /signout act on a browser's own session,
        # not on the record.
        session_only = path.startswith("/app/") or path in ("/signin", "/signout")
        if (method, path) in OFFICE_WRITES:
            continue
        if method in ("POST", "PUT", "PATCH", "DELETE") and not session_only:
            answer = expected.split()[ROLES.index("office")]
            assert answer in ("403", "405"), (method, path, answer)
    r = client.post(f"{API}/farmers", json={"name": "x"}, headers=office)
    assert "office" in r.json()["detail"]


def test_operator_reports_hold_its_own_drones_only(client, world):
    rows = client.get(f"{API}/reports/missions", headers=world.headers["operator"]).json()["data"]
    assert [r["mission_id"] for r in rows] == ["MA"]
    fleet = client.get(f"{API}/reports/fleet", headers=world.headers["operator"]).json()["data"]
    assert [r["drone_code"] for r in fleet] == [world.drone_a.code]
    r = client.get(f"{API}/reports/field-applications", headers=world.headers["operator"])
    assert r.status_code == 403
    everything = client.get(f"{API}/reports/missions", headers=world.headers["office"]).json()
    everything = everything["data"]
    assert sorted(r["mission_id"] for r in everything) == ["MA", "MB"]


# Every report by role (the table above calls /reports/missions). The two field reports
# are asked for farmer A's field; the others with no filter.
REPORTS_BY_ROLE = {
    # report                    anon farmer other coop other op  other office admin
    "missions":                "401 403 403 403 403 200 200 200 200",
    "fleet":                   "401 403 403 403 403 200 200 200 200",
    "province":                "401 403 403 403 403 403 403 200 200",
    "field-applications":      "401 403 403 200 200 403 403 200 200",
    "pesticide-records":       "401 403 403 200 200 200 200 200 200",
    "field-season?field=A":    "401 200 403 200 403 200 200 200 200",
    "low-emission-rice?field=A": "401 200 403 200 403 403 403 200 200",
    "low-emission-mrv?field=A": "401 200 403 200 403 403 403 200 200",
}  # fmt: skip


@pytest.mark.parametrize("report", sorted(REPORTS_BY_ROLE))
def test_report_by_role(client, world, report):
    wrong = []
    path = f"{API}/reports/{report.replace('=A', '=' + world.field_a.code)}"
    for role, expected in zip(ROLES, REPORTS_BY_ROLE[report].split(), strict=True):
        r = client.get(path, headers=world.headers[role])
        if r.status_code != int(expected):
            wrong.append(f"{role}: {r.status_code} (expected {expected}) {r.text[:160]}")
    assert not wrong, f"{report}: " + "; ".join(wrong)


def test_farmers_and_cooperatives_read_their_own_fields_reports(client, world):
    def fields(role, name):
        r = client.get(f"{API}/reports/{name}", headers=world.headers[role])
        assert r.status_code == 200, r.text
        return [row["field_code"] for row in r.json()["data"]]

    # Field A has a season; farmer B's field has none.
    assert fields("farmer", "low-emission-rice") == [world.field_a.code]
    assert fields("cooperative", "low-emission-rice") == [world.field_a.code]
    assert fields("other_farmer", "low-emission-rice") == []
    assert fields("other_cooperative", "low-emission-rice") == []
    assert fields("office", "low-emission-rice") == [world.field_a.code]


def test_operator_log_of_another_services_drone_is_kept_as_a_reject(client, world, session):
    other = session.exec(
        text("SELECT code FROM drones WHERE code != :c").bindparams(c=world.drone_a.code)
    ).scalar_one()
    line = orjson.dumps(
        {
            "drone_id": other,
            "mission_id": "SNEAK",
            "seq": 1,
            "ts": "2026-03-01T08:00:00+07:00",
            "lat": 9.2,
            "lon": 105.4,
            "spraying": True,
        }
    )
    r = client.post(
        f"{API}/ingest/logs",
        headers=world.headers["operator"],
        files={"file": ("x.jsonl", line, "application/x-ndjson")},
    )
    assert r.status_code == 200 and r.json()["rejected"] == 1 and r.json()["stored"] == 0
    reject = session.exec(
        text("SELECT reason FROM ingest_rejects WHERE payload LIKE '%SNEAK%'")
    ).scalar_one()
    assert "not one of your organisation's drones" in reject
