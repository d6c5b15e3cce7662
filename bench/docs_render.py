"""How long ``/docs`` takes to become usable in Chromium.

    .venv/bin/python bench/docs_render.py      # [--rounds 3 --port 8620 --path /docs/try]

Starts ``agritrace``'s API (uvicorn, one worker, a fresh SQLite file) on ``--port`` and
opens ``/docs`` (the server's reference; ``--path /docs/try``: Swagger UI) in headless
Chromium (Debian's build, as the end-to-end tests do), each time in a new browser context
(nothing cached). Timed from the navigation's start: the page's ``load`` event, and
*usable*: for the reference, when 41 operations are in the page and the first one clicked
is open; for Swagger UI with every operation drawn at once (its default), when more than
40 are; with tags closed (``docExpansion: none``), when the tags are listed, and then when
the first one clicked shows its operations. The first round is the server's first
``/openapi.json`` too.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=8620)
    ap.add_argument("--path", default="/docs", help="/docs (the reference) or /docs/try")
    args = ap.parse_args()
    import httpx
    from playwright.sync_api import sync_playwright

    db = Path(tempfile.mkdtemp()) / "docs.db"
    env = os.environ | {"AGRITRACE_DATABASE_URL": f"sqlite:///{db}"}
    subprocess.run([sys.executable, "-m", "agritrace", "db", "upgrade"], env=env, check=False)
    cmd = [
        sys.executable, "-m", "uvicorn", "traceability.api.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(args.port), "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(f"load average at start: {os.getloadavg()[0]:.1f}", flush=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for round_ in range(1, args.rounds + 1):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                t = time.perf_counter()
                page.goto(f"{base}{args.path}", wait_until="load")
                loaded = time.perf_counter() - t
                if page.locator("details.op").count():  # the server's reference
                    page.locator("details.op").nth(40).wait_for(state="attached")
                    page.locator("details.op summary").first.click()  # it opens in place
                    page.locator("details.op[open]").first.wait_for(state="visible")
                    usable = time.perf_counter() - t
                    print(f"round {round_}: load {loaded:.2f} s, usable (41 operations listed, "
                          f"one opened) {usable:.2f} s", flush=True)  # fmt: skip
                    context.close()
                    continue
                tags = page.locator(".opblock-tag")
                tags.first.wait_for(state="visible", timeout=60_000)
                listed = time.perf_counter() - t
                if page.locator(".opblock").count() == 0:  # tags closed: open the first
                    tags.first.click()
                    page.locator(".opblock").first.wait_for(state="visible", timeout=60_000)
                    opened = time.perf_counter() - t
                    print(f"round {round_}: load {loaded:.2f} s, usable (tags listed) "
                          f"{listed:.2f} s, a tag opened {opened:.2f} s", flush=True)  # fmt: skip
                else:  # every operation drawn at once: usable once 40 are
                    page.locator(".opblock").nth(40).wait_for(state="attached", timeout=60_000)
                    usable = time.perf_counter() - t
                    print(f"round {round_}: load {loaded:.2f} s, usable {usable:.2f} s", flush=True)
                context.close()
            browser.close()
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
