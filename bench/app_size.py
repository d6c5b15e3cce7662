"""Bytes a phone downloads to open the farmers' app for the first time, and on 3G.

Run with ``.venv/bin/python bench/app_size.py [--kbps 400] [--rtt-ms 300]``. A farmer with
three fields and a season, a 30-product catalogue and 40 diary entries is signed in on a
temporary SQLite database; each screen is fetched as a phone does (gzip accepted) with
the stylesheet and script it links. Later screens reuse the cached stylesheet and script.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402
from sqlmodel import Session  # noqa: E402

from tests.factories import Factory  # noqa: E402
from traceability.api.main import create_app  # noqa: E402
from traceability.api.pages import static_url  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kbps", type=float, default=400.0, help="effective 3G throughput")
    parser.add_argument("--rtt-ms", type=float, default=300.0, help="3G round trip time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/size.db")
        migrate(engine)
        with Session(engine) as session:
            f = Factory(session)
            farmer = f.farmer(name="Nguyễn Văn Ba")
            fields = [f.field(farmer=farmer) for _ in range(3)]
            for field in fields:
                f.season(field, sown_on=date.today() - timedelta(days=40))
            for i in range(30):
                f.input(name=f"Sản phẩm thử {i}", registration_status="registered")
            for i in range(40):
                f.entry(
                    fields[i % 3],
                    note="ghi chú",
                    occurred_at=datetime.fromisoformat("2026-10-01T08:00:00+07:00")
                    + timedelta(hours=i * 7),
                )
            token = f.token("farmer", farmer)["Authorization"].split()[1]
        app = create_app(engine=engine)

        client = TestClient(app)
        client.cookies.set("agritrace_device", token)
        gz = {"Accept-Encoding": "gzip"}

        def wire(url: str) -> tuple[int, int]:
            r = client.get(url, headers=gz)
            assert r.status_code == 200, (url, r.status_code)
            return int(r.headers.get("content-length", len(r.content))), len(r.content)

        assets = {name: wire(static_url(name)) for name in ("app.css", "app.js")}
        print(f"{'what':34} {'gzip B':>8} {'raw B':>8}")
        for name, (z, raw) in assets.items():
            print(f"{name:34} {z:8d} {raw:8d}")
        for page in ("/app/", "/app/new", "/app/diary", "/app/lots"):
            z, raw = wire(page)
            print(f"{page:34} {z:8d} {raw:8d}")
        z_home, raw_home = wire("/app/")
        first = z_home + sum(z for z, _ in assets.values())
        first_raw = raw_home + sum(raw for _, raw in assets.values())
        # The HTML first, then its stylesheet and script in parallel: two round trips and the bytes.
        seconds = 2 * args.rtt_ms / 1000 + first * 8 / (args.kbps * 1000)
        print(f"first load of /app/ (HTML+CSS+JS): {first} B gzip ({first_raw} B raw)")
        print(
            f"on 3G at {args.kbps:g} kbit/s and {args.rtt_ms:g} ms RTT: about {seconds:.1f} s "
            "(later screens: their HTML only; offline: from the service worker)"
        )


if __name__ == "__main__":
    main()
