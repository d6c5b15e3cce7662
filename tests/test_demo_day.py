"""The demo's simulated day, run twice on one database and stopped mid-day each time.

What a restart must not do, measured by queries on the database the demo wrote: fly a
drone's hours again (the same take-off twice, or two missions of one drone at once),
harvest a field twice in its season, or write a field's diary more than once a day.
"""

import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
from rich.console import Console
from sqlalchemy import create_engine, text

from tests.mqtt import free_port

# 30 000 simulated seconds a real one: a day of 5 s covers more than 40 hours (so daylight,
# when farmers write, comes whatever the hour the test runs at).
SPEED = 30_000.0
RUN_S = 5.0
LOCAL = timedelta(hours=7)

MISSIONS = """
SELECT m.mission_id, m.drone_code, m.started_at,
       coalesce(m.ended_at, (SELECT max(t.ts) FROM telemetry t WHERE t.mission_id = m.mission_id))
FROM missions m WHERE m.started_at IS NOT NULL
"""
SAME_TAKE_OFF = """
SELECT drone_code, started_at FROM missions WHERE started_at IS NOT NULL
GROUP BY drone_code, started_at HAVING count(*) > 1
"""
HARVESTED_TWICE = """
SELECT f.code, count(*) FROM lot_fields lf JOIN fields f ON f.id = lf.field_id
GROUP BY f.code, lf.season_id HAVING count(*) > 1
"""
DAY_ENTRIES = """
SELECT f.code, d.occurred_at FROM diary_entries d JOIN fields f ON f.id = d.field_id
WHERE d.client_id LIKE 'demo-day-%'
"""


def _at(value) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _run(url: str) -> None:
    """One run of the demo, stopped ``RUN_S`` seconds into its day, as Ctrl-C does."""
    from agritrace.demo import DemoConfig, run_demo

    config = DemoConfig(
        database_url=url, port=free_port(), drones=2, speed=SPEED, serve_forever=True
    )
    stop = threading.Event()

    def stop_mid_day() -> None:
        # The landing page offers its sign-in forms once the story is told and the day starts.
        deadline = time.monotonic() + 90
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                if "<form" in httpx.get(f"http://127.0.0.1:{config.port}/", timeout=2).text:
                    break
            except httpx.HTTPError:
                pass
            stop.wait(0.2)
        stop.wait(RUN_S)
        stop.set()

    watcher = threading.Thread(target=stop_mid_day)
    watcher.start()
    try:
        run_demo(config, console=Console(quiet=True), stop_event=stop)
    finally:
        stop.set()
        watcher.join()


def _missions(engine) -> list[tuple[str, str, datetime, datetime | None]]:
    with engine.connect() as conn:
        rows = conn.execute(text(MISSIONS)).all()
    return [(mid, drone, _at(start), _at(end) if end else None) for mid, drone, start, end in rows]


def test_a_restarted_day_resumes_and_nothing_happens_twice(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    engine = create_engine(url)
    _run(url)
    first = _missions(engine)
    with engine.connect() as conn:
        entries_first = len(conn.execute(text(DAY_ENTRIES)).all())
    first_end = max(end or start for _, _, start, end in first)

    _run(url)
    second = _missions(engine)
    new = [m for m in second if m[0] not in {f[0] for f in first}]
    with engine.connect() as conn:
        entries = conn.execute(text(DAY_ENTRIES)).all()
        assert conn.execute(text(SAME_TAKE_OFF)).all() == []
        assert conn.execute(text(HARVESTED_TWICE)).all() == []
        lots = conn.execute(text("SELECT count(*) FROM lots")).scalar_one()
    engine.dispose()

    # The second run did fly and write: the checks below are not about an idle day.
    assert len(new) >= 2 and len(entries) > entries_first > 0, (len(new), entries_first)
    assert lots >= 3  # the story's two harvests and their milled lot, at least
    # It went on from where the first stopped, not from the real time again.
    assert min(start for _, _, start, _ in new) >= first_end

    # No drone flies two missions at once: each take-off after the drone's last landing.
    by_drone = defaultdict(list)
    for _, drone, start, end in second:
        by_drone[drone].append((start, end or start))
    for drone, flights in by_drone.items():
        flights.sort()
        for (_, landed), (took_off, _) in zip(flights, flights[1:], strict=False):
            assert took_off >= landed, f"{drone} took off at {took_off} before landing {landed}"

    # A farmer writes about a field at most once a day, and in daylight (Vietnam time).
    days = defaultdict(int)
    for code, occurred in entries:
        local = _at(occurred) + LOCAL
        days[code, local.date()] += 1
        assert 5 <= local.hour < 19, (code, local)
    assert max(days.values()) == 1, max(days.items(), key=lambda kv: kv[1])
