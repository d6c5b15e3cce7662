"""The migrations build exactly the schema the models describe, on both backends; the
data migrations rewrite what they should and nothing else."""

import unicodedata
from datetime import datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import traceability.models  # noqa: F401  (registers every table)
from tests.factories import Factory
from traceability.db import migrate
from traceability.models import DiaryEntry, Mission, UTCDateTime
from traceability.services import catalog, diary, fields


def test_migrated_schema_matches_models(engine):
    # ``engine`` is a database created empty and brought to head by the migrations alone.
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = compare_metadata(ctx, SQLModel.metadata)
    assert diffs == [], f"migrations and models differ on {engine.dialect.name}: {diffs}"


def test_every_table_exists_and_head_is_recorded(engine):
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None


# ---- 0011: text stored before the API wrote NFC

NFD_VILLAGE = unicodedata.normalize("NFD", "Ấp Giá Rai")
NFD_NAME = unicodedata.normalize("NFD", "Nguyễn Thị Giá")
NFD_NOTE = unicodedata.normalize("NFD", "Phun thuốc ở Giá Rai")


def _v1_entry(s: Session, field_id: int, note: str) -> None:
    """A diary entry as written before revision 0012_trust (hash v1, no new columns)."""
    entry = DiaryEntry(
        field_id=field_id,
        chain_seq=1,
        # In UTC, as the database gives them back (the v1 hash covers their ISO text).
        occurred_at=datetime.fromisoformat("2026-02-01T01:00:00+00:00"),
        recorded_at=datetime.fromisoformat("2026-02-01T02:00:00+00:00"),
        activity="observe",
        note=note,
        prev_hash=diary.GENESIS,
        hash="",
    )
    entry.hash = diary.entry_hash_v1(entry)
    s.execute(
        text(
            "INSERT INTO diary_entries (field_id, chain_seq, occurred_at, recorded_at, activity,"
            " note, retracts, source, prev_hash, hash) VALUES (:f, 1, :o, :r, 'observe', :n,"
            " :no, 'manual', :p, :h)"
        ).bindparams(bindparam("o", type_=UTCDateTime), bindparam("r", type_=UTCDateTime)),
        {
            "f": field_id,
            "o": entry.occurred_at,
            "r": entry.recorded_at,
            "n": note,
            "no": False,
            "p": diary.GENESIS,
            "h": entry.hash,
        },
    )
    s.execute(
        text("UPDATE fields SET diary_length = 1, diary_head = :h WHERE id = :f"),
        {"h": entry.hash, "f": field_id},
    )
    s.commit()


def _record_at_0010(engine: Engine) -> str:
    """A farmer, field, season, drone and diary entry; then NFD text put in by raw SQL.

    Returns the diary's field code. The entry is appended through the service with an
    NFD note (as an older app wrote it), so its hash covers the NFD text.
    """
    with Session(engine) as s:
        factory = Factory(s)
        field = factory.field()
        # By SQL: the season table at 0010 has fewer columns than the model has now.
        s.execute(
            text(
                "INSERT INTO seasons (field_id, crop, sown_on, created_at) "
                "VALUES (:f, 'lúa', '2026-01-05', '2026-01-05 00:00:00')"
            ),
            {"f": field.id},
        )
        factory.drone()
        _v1_entry(s, field.id, NFD_NOTE)
        code = field.code
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE farmers SET name = :n, village = :v"), {"n": NFD_NAME, "v": NFD_VILLAGE}
        )
        conn.execute(
            text("UPDATE seasons SET crop = :c"), {"c": unicodedata.normalize("NFD", "lúa")}
        )
        conn.execute(text("UPDATE drones SET operator = :o"), {"o": NFD_NAME})
        conn.execute(
            text("UPDATE fields SET district = :d"), {"d": unicodedata.normalize("NFD", "Giá Rai")}
        )
    return code


def test_migration_0011_rewrites_names_in_nfc_and_leaves_the_diary_alone(fresh_db):
    migrate(fresh_db, "0010")
    code = _record_at_0010(fresh_db)
    village = unicodedata.normalize("NFC", "Ấp Giá Rai")
    assert village != NFD_VILLAGE  # the test compares two spellings of one village
    with Session(fresh_db) as s:
        # Before: the API's NFC filter finds nothing.
        assert catalog.list_farmers(s, village=village, offset=0, limit=10)[1] == 0

    migrate(fresh_db)

    nfc_name = unicodedata.normalize("NFC", NFD_NAME)
    with fresh_db.connect() as conn:
        row = conn.execute(text("SELECT name, village FROM farmers")).one()
        assert tuple(row) == (nfc_name, village)
        assert conn.execute(text("SELECT crop FROM seasons")).scalar_one() == "lúa"
        assert conn.execute(text("SELECT district FROM fields")).scalar_one() == "Giá Rai"
        # The diary keeps the text its hash was computed over.
        assert conn.execute(text("SELECT note FROM diary_entries")).scalar_one() == NFD_NOTE
    with Session(fresh_db) as s:
        assert catalog.list_farmers(s, village=village, offset=0, limit=10)[1] == 1
        assert catalog.list_farmers(s, q="Thị Giá", offset=0, limit=10)[1] == 1
        assert catalog.list_drones(s, operator=nfc_name, offset=0, limit=10)[1] == 1
        assert fields.list_seasons(s, crop="lúa", offset=0, limit=10)[1] == 1
        verification = diary.verify_chain(s, field_code=code)
        assert verification.valid and verification.entries == 1, verification


# ---- 0012: missions record their source


def test_migration_0012_gives_missions_stored_before_the_contract_as_source(fresh_db):
    migrate(fresh_db, "0011")
    with fresh_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO missions (mission_id, drone_code, status, planned_field_codes, "
                "point_count, flags, zones, dirty, created_at) VALUES "
                "('M-OLD', 'D-1', 'open', '[]', 0, '[]', '[]', true, :now)"
            ),
            {"now": datetime(2026, 3, 1, 1, 0)},
        )
    migrate(fresh_db)
    with fresh_db.connect() as conn:
        assert conn.execute(text("SELECT source FROM missions")).scalar_one() == "contract"


# ---- 0012_trust: one append-only log, entries written before sequenced into it


def test_migration_0012_sequences_every_existing_entry_and_they_still_verify(fresh_db):
    import hashlib
    import json

    from traceability import transparency as tl
    from traceability.services import tlog

    migrate(fresh_db, "0011")
    with Session(fresh_db) as s:
        factory = Factory(s)
        a, b = factory.field(), factory.field()
        _v1_entry(s, b.id, "first, on the second field")
        _v1_entry(s, a.id, "then the first field")
        codes = {a.id: a.code, b.id: b.code}

    migrate(fresh_db)

    with fresh_db.connect() as conn:
        entries = conn.execute(
            text("SELECT id, field_id, hash FROM diary_entries ORDER BY id")
        ).all()
        versions = conn.execute(text("SELECT hash_version FROM diary_entries")).scalars().all()
        leaves = conn.execute(
            text("SELECT idx, entry_id, leaf_hash FROM tlog_leaves ORDER BY idx")
        ).all()
    assert versions == [1, 1]  # their hashes are left as they were
    assert [(x.idx, x.entry_id) for x in leaves] == [(0, entries[0].id), (1, entries[1].id)]
    for leaf, entry in zip(leaves, entries, strict=True):
        by_hand = json.dumps(
            {"field": codes[entry.field_id], "hash": entry.hash, "kind": "diary-entry", "seq": 1},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        assert leaf.leaf_hash == hashlib.sha256(b"\x00" + by_hand).hexdigest()
    key = tl.new_key()
    with Session(fresh_db) as s:
        cp = tlog.publish(s, key=key, origin="migrated/log")
        assert cp.size == 2
        result = tlog.check(
            s, note=cp.note, verifier=tl.Verifier.of("migrated/log", key.public_key())
        )
        assert result.holds, result.problems
        assert diary.verify_chain(s, field_code=a.code).valid


# ---- 0012_verdicts: how products are applied, and the fixes' own times of missions


def _record_at_0011(engine: Engine) -> tuple[datetime, datetime]:
    """Products of each kind, a measured mission with two fixes and one with none, written
    through the tables as they stood at 0011; the two fixes' times."""
    from sqlalchemy import Column, MetaData, Table

    from traceability.models import UTCDateTime

    now = datetime.fromisoformat("2026-11-01T00:00:00+00:00")
    first = datetime.fromisoformat("2026-11-28T01:00:00+00:00")
    last = datetime.fromisoformat("2026-11-28T01:12:30+00:00")
    meta = MetaData()
    partitioned = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        inputs, missions, telemetry = (
            Table(name, meta, *cols, autoload_with=conn)
            for name, cols in (
                ("inputs", [Column("created_at", UTCDateTime)]),
                ("missions", [Column("created_at", UTCDateTime)]),
                # Partitioned by month on PostgreSQL, where its key holds the time.
                ("telemetry", [Column("ts", UTCDateTime, primary_key=partitioned)]),
            )
        )
        conn.execute(
            inputs.insert(),
            [
                {"code": code, "name": code, "kind": kind, "unit": "kg",
                 "registration_status": "unknown", "created_at": now}
                for code, kind in (
                    ("BEAM75WP", "pesticide"), ("FURADAN3GR", "pesticide"),
                    ("UREA46", "fertilizer"), ("ST25", "seed"),
                )
            ],
        )  # fmt: skip
        conn.execute(
            missions.insert(),
            [
                {"mission_id": mid, "drone_code": "D1", "status": "complete", "point_count": n,
                 "planned_field_codes": [], "flags": [], "zones": [], "dirty": False,
                 "created_at": now}
                for mid, n in (("M-FIXES", 2), ("M-NONE", 0))
            ],
        )  # fmt: skip
        conn.execute(
            telemetry.insert(),
            [
                {"drone_code": "D1", "seq": seq, "mission_id": "M-FIXES", "ts": ts,
                 "lat": 9.28, "lon": 105.72, "spraying": True}
                for seq, ts in ((2, last), (1, first))
            ],
        )  # fmt: skip
    return first, last


def test_migration_0012_names_how_products_are_applied_and_dates_missions_by_fixes(fresh_db):
    migrate(fresh_db, "0011")
    first, last = _record_at_0011(fresh_db)

    migrate(fresh_db)

    with Session(fresh_db) as s:
        methods = {
            p.code: str(p.application_method) for p in catalog.list_inputs(s, offset=0, limit=10)[0]
        }
        assert methods == {
            "BEAM75WP": "spray",  # a wettable powder goes out as a tank mix
            "FURADAN3GR": "spread",  # GR: granules, spread dry
            "UREA46": "spread",
            "ST25": "seed",
        }
        fixes = {
            m.mission_id: (m.first_fix_at, m.last_fix_at) for m in s.exec(select(Mission)).all()
        }
    assert fixes == {"M-FIXES": (first, last), "M-NONE": (None, None)}


# ---- 0017: a flying mission's row updated in place


def test_the_ingesters_count_update_changes_no_indexed_column(engine):
    # The writer moves each flying mission's count, last point time and start with every
    # batch. PostgreSQL updates a row in place (no new index entries, no dead index
    # rows) only if no indexed value changed: none of those columns may be indexed.
    # (``dirty`` is indexed: it is set true, and only changes after a measurement.)
    moved = {"point_count", "last_point_at", "started_at"}
    indexes = inspect(engine).get_indexes("missions")
    assert "ix_missions_open" in {ix["name"] for ix in indexes}
    for ix in indexes:
        assert not moved & set(ix["column_names"]), ix["name"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            options = conn.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'missions'")
            ).scalar_one()
        assert options == ["fillfactor=80"]  # room in each page for the new versions
