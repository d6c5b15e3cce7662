"""Telemetry partitioned by month on PostgreSQL, and exactly once across partitions.

The partitions are checked from PostgreSQL's own catalog (``pg_inherits``) and each
row's ``tableoid``, not through the code that made them. The repeat across months runs
on both backends.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import text
from sqlmodel import Session

from drone_ingest import handlers
from drone_ingest.handlers import Message
from tests.conftest import _postgres_engine
from traceability.db import migrate


def _point(seq: int, ts: str, mission: str = "M-P") -> dict:
    return {
        "mission_id": mission,
        "seq": seq,
        "ts": ts,
        "lat": 9.23,
        "lon": 105.43,
        "spraying": False,
    }


def _ingest(engine, points: list[dict], drone: str = "D0"):
    message = Message(topic=f"agri/drones/{drone}/telemetry", payload=orjson.dumps(points))
    with Session(engine) as s:
        return handlers.store(s, [message], prefix="agri", max_bytes=1_000_000)


def _rows_by_partition(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM telemetry GROUP BY 1")
        ).all()
    return dict(rows)


def _partitions(engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits "
                    "WHERE inhparent = 'telemetry'::regclass"
                )
            ).scalars()
        )


@pytest.fixture
def drone(factory):
    return factory.drone(code="D0", swath_m=10.0)


@pytest.fixture
def pg(db, drone):
    if db.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    return db


def test_a_resent_point_with_another_time_is_caught_across_partitions(db, drone):
    # seq 5 first in March, then again (a drone's clock jumped) in May: another
    # partition on PostgreSQL, yet the same (drone, seq), so it is not stored twice,
    # and with another time it is a conflicting duplicate, kept as a reject.
    first = _ingest(db, [_point(4, "2026-03-10T01:00:00Z"), _point(5, "2026-03-10T01:00:01Z")])
    again = _ingest(db, [_point(5, "2026-05-02T08:00:00Z"), _point(6, "2026-05-02T08:00:01Z")])
    assert (first.stored, first.duplicates) == (2, 0)
    assert (again.stored, again.duplicates, again.conflicts) == (1, 0, 1)
    with db.connect() as conn:
        rows = conn.execute(text("SELECT seq, ts FROM telemetry ORDER BY seq")).all()
    assert [r.seq for r in rows] == [4, 5, 6]
    assert str(rows[1].ts).startswith("2026-03-10")  # the first one kept


def test_points_land_in_their_months_partitions(pg):
    result = _ingest(
        pg,
        [
            _point(1, "2026-03-31T23:59:59Z"),  # the last second of March (UTC)
            _point(2, "2026-04-01T06:59:59+07:00"),  # still March in UTC
            _point(3, "2026-04-01T00:00:00Z"),
            _point(4, "2026-04-15T12:00:00Z"),
        ],
    )
    assert result.stored == 4
    assert _rows_by_partition(pg) == {
        "telemetry_partitions.telemetry_y2026m03": 2,
        "telemetry_partitions.telemetry_y2026m04": 2,
    }
    assert {
        "telemetry_partitions.telemetry_y2026m03",
        "telemetry_partitions.telemetry_y2026m04",
        "telemetry_partitions.telemetry_default",
    } <= _partitions(pg)


def test_a_month_without_a_partition_gets_one_on_demand(pg):
    assert "telemetry_partitions.telemetry_y2019m07" not in _partitions(pg)
    result = _ingest(pg, [_point(1, "2019-07-04T10:00:00Z", mission="M-OLD")])
    assert result.stored == 1
    assert "telemetry_partitions.telemetry_y2019m07" in _partitions(pg)
    assert _rows_by_partition(pg) == {"telemetry_partitions.telemetry_y2019m07": 1}


def test_rows_caught_by_the_default_partition_move_to_their_month(pg):
    # A row written past the application (no partition for its month) is kept by the
    # default partition; when that month's partition is made, the row moves into it.
    with pg.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO telemetry (drone_code, seq, mission_id, ts, lat, lon, spraying) "
                "VALUES ('D0', 1, 'M-OLD', '2018-01-20T00:00:00Z', 9.2, 105.4, false)"
            )
        )
        conn.execute(text("INSERT INTO telemetry_keys VALUES ('D0', 1)"))
    assert _rows_by_partition(pg) == {"telemetry_partitions.telemetry_default": 1}
    result = _ingest(pg, [_point(2, "2018-01-21T00:00:00Z", mission="M-OLD")])
    assert result.stored == 1
    assert _rows_by_partition(pg) == {"telemetry_partitions.telemetry_y2018m01": 2}


@pytest.fixture
def fresh_pg() -> Iterator:
    """A PostgreSQL database of its own, not yet migrated."""
    yield from _postgres_engine()


def test_migration_0006_converts_a_table_that_holds_points(fresh_pg):
    migrate(fresh_pg, "0005")
    with fresh_pg.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO drones (code, model, swath_m, tank_capacity, online, created_at) "
                "VALUES ('D0', 'T40', 10, 40, false, now())"
            )
        )
        for seq, ts in [
            (1, "2025-11-30T23:00:00Z"),
            (2, "2025-12-01T01:00:00Z"),
            (3, "2025-12-02"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO telemetry (drone_code, seq, mission_id, ts, lat, lon, spraying) "
                    "VALUES ('D0', :seq, 'M-P', :ts, 9.23, 105.43, false)"
                ),
                {"seq": seq, "ts": ts},
            )
    migrate(fresh_pg)
    assert _rows_by_partition(fresh_pg) == {
        "telemetry_partitions.telemetry_y2025m11": 1,
        "telemetry_partitions.telemetry_y2025m12": 2,
    }
    with fresh_pg.connect() as conn:
        kind = conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'telemetry'"))
        assert kind.scalar() == "p"
        keys = conn.execute(text("SELECT seq FROM telemetry_keys ORDER BY seq")).scalars()
        assert list(keys) == [1, 2, 3]
    # The copied points are known: sent again the same they are repeats; a new one gets id 4.
    result = _ingest(
        fresh_pg, [_point(3, "2025-12-02T00:00:00Z"), _point(4, "2025-12-03T00:00:00Z")]
    )
    assert (result.stored, result.duplicates) == (1, 1)
    with fresh_pg.connect() as conn:
        assert conn.execute(text("SELECT max(id) FROM telemetry")).scalar() == 4


def test_this_month_and_the_next_are_made_ahead(fresh_pg):
    migrate(fresh_pg)
    now = datetime.now(UTC)
    later = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    expected = {
        f"telemetry_partitions.telemetry_y{y:04d}m{m:02d}"
        for y, m in [(now.year, now.month), later]
    }
    assert expected | {"telemetry_partitions.telemetry_default"} == _partitions(fresh_pg)


def test_migration_0006_goes_back_to_one_table_with_its_points(fresh_db):
    from alembic import command

    from traceability.db import alembic_config

    migrate(fresh_db, "0006")
    with fresh_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO drones (code, model, swath_m, tank_capacity, online, created_at) "
                "VALUES ('D0', 'T40', 10, 40, false, '2026-01-01')"
            )
        )
    _ingest(fresh_db, [_point(1, "2026-01-31T23:00:00Z"), _point(2, "2026-02-01T00:30:00Z")])
    command.downgrade(alembic_config(fresh_db), "0005")
    with fresh_db.connect() as conn:
        rows = conn.execute(text("SELECT seq FROM telemetry ORDER BY seq")).scalars()
        assert list(rows) == [1, 2]
    # The old unique key is back: a repeat is refused by the table itself.
    with pytest.raises(Exception, match="(?i)unique|duplicate"), fresh_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO telemetry (drone_code, seq, mission_id, ts, lat, lon, spraying) "
                "VALUES ('D0', 2, 'M-P', '2026-03-01T00:00:00Z', 9.2, 105.4, false)"
            )
        )
    migrate(fresh_db)  # and forward again, the points kept
    with fresh_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM telemetry_keys")).scalar() == 2
