"""An app built with its own settings answers with them, not with the process's.

The demo builds its app with ``--port 8601``; the process's settings (here the test
environment's ``https://trace.example.vn``) must not leak into a link, a token check or a
page size.
"""

import re
import uuid

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN
from traceability.api.main import create_app
from traceability.config import Settings

OWN_BASE = "http://localhost:8601"
OWN_TOKEN = "own-admin-token-" + uuid.uuid4().hex


def _own_app(db):
    settings = Settings(public_base_url=OWN_BASE, admin_token=OWN_TOKEN, page_size_max=3)
    return create_app(settings=settings, engine=db)


def test_links_tokens_and_limits_come_from_the_apps_own_settings(db, factory):
    member_org = factory.organisation()
    farmer = factory.farmer(organisation=member_org)
    coop = factory.token("cooperative", organisation=member_org)
    own = {"Authorization": f"Bearer {OWN_TOKEN}"}
    with TestClient(_own_app(db)) as client:
        # The process's bootstrap token is not this app's.
        process = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert client.get("/api/v1/farmers", headers=process).status_code == 401
        assert client.get("/api/v1/farmers", headers=own).json()["count"] == 1

        r = client.post(f"/api/v1/farmers/{farmer.id}/signin-link", headers=own)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["url"].startswith(f"{OWN_BASE}/app/signin/"), body["url"]
        assert body["qr_png_url"] == body["url"] + "/qr.png"

        # The cooperative's page shows the link it issued with the app's base URL.
        page = client.post("/coop/signin-link", headers=coop, data={"farmer_id": farmer.id})
        assert page.status_code == 200, page.text
        shown = re.search(r'<code class="link">([^<]+)</code>', page.text).group(1)
        assert shown.startswith(f"{OWN_BASE}/app/signin/"), shown

        # Paging reads the app's page_size_max (3), not the default 500.
        assert client.get("/api/v1/farmers?limit=3", headers=own).status_code == 200
        too_many = client.get("/api/v1/farmers?limit=4", headers=own)
        assert too_many.status_code == 422 and "less than or equal to 3" in too_many.text
