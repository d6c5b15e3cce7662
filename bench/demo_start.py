"""How long ``./run demo`` takes, on a fresh database, until a newcomer can use it.

    .venv/bin/python bench/demo_start.py                 # [--rounds 2 --port 8630]

Each round starts ``python -m agritrace demo --no-day`` in a new process on a new SQLite
file (what a newcomer's first ``./run demo`` after the install does), polls ``/healthz``
and ``/app/`` every 50 ms, and reads the demo's output as it comes. Printed per round,
in seconds from the process's start: the first 200 of ``/healthz``, the first answer of
``/app/`` (a visitor without a device gets its sign-in page, a 401), the
"ready" banner, and when each line of the demo's output appeared (its progress), so the
slow step shows. Then the demo is stopped with SIGTERM (as ``kill`` stops it).

The ceiling, in the same run: a bare ``python -c pass`` started the same way, and the
import of the demo's modules alone (``python -c "import agritrace.demo, traceability.api.main"``).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _started(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True)
    return time.perf_counter() - t


def one_round(port: int, timeout: float) -> dict:
    """Start a demo on a new database; the seconds to each mark and its output lines."""
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="demo-start-"))
    env = os.environ | {"COLUMNS": "100", "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable, "-m", "agritrace", "demo", "--no-day", "--port", str(port),
        "--database-url", f"sqlite:///{folder / 'demo.db'}",
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[tuple[float, str]] = []
    marks: dict[str, float] = {}

    def read() -> None:
        for line in proc.stdout:
            now = time.perf_counter() - t0
            lines.append((now, line.rstrip()))
            if "demo is ready" in line:
                marks.setdefault("ready banner", now)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() - t0 < timeout and proc.poll() is None:
                for path in ("/healthz", "/app/"):
                    if any(k.startswith(path + " ") for k in marks):
                        continue
                    try:
                        answer = client.get(base + path, follow_redirects=True)
                    except httpx.HTTPError:
                        continue
                    # /app/ answers a visitor without a device its sign-in page (401).
                    if answer.status_code in (200, 401):
                        marks[f"{path} {answer.status_code}"] = time.perf_counter() - t0
                if len(marks) == 3:
                    break
                time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    return {"marks": marks, "lines": lines}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--port", type=int, default=8630)
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--lines", action="store_true", help="print every output line's time")
    args = ap.parse_args()
    env = dict(os.environ)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bare = _started([sys.executable, "-c", "pass"], env)
    imports = _started(
        [sys.executable, "-c", "import agritrace.demo, agritrace.cli, traceability.api.main"], env
    )
    print(f"ceiling: python itself {bare:.2f} s; importing the demo's modules {imports:.2f} s")
    for r in range(1, args.rounds + 1):
        out = one_round(args.port, args.timeout)
        marks = out["marks"]
        shown = ", ".join(f"{k} {v:.1f} s" for k, v in marks.items())
        print(f"round {r}: {shown or 'nothing answered'}", flush=True)
        if args.lines or r == 1:
            for at, line in out["lines"]:
                if line.strip():
                    print(f"    {at:6.1f} s  {line[:110]}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
