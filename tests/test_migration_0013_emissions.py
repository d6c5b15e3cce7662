"""Revision 0013_emissions: a straw entry's amount (t/ha), added without moving any hash."""

import hashlib
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, text
from sqlmodel import Session

from tests.factories import Factory
from traceability.db import migrate
from traceability.errors import InvalidInput
from traceability.models import DiaryEntryCreate, UTCDateTime
from traceability.services import diary

AT = datetime(2026, 3, 22, 9, 0, tzinfo=UTC)


def _v2_straw_bytes(field_code: str) -> bytes:
    """The v2 canonical bytes of a straw entry as written before 0013 (docs/transparency.md
    §3.1: every key present, sorted, no spaces), built by hand with json.dumps."""
    content = {
        "v": 2, "field": field_code, "seq": 1, "prev": "0" * 64,
        "occurred_at": "2026-03-22T09:00:00.000000Z", "recorded_at": "2026-03-22T09:00:00.000000Z",
        "activity": "straw", "product": None, "quantity": None, "unit": None, "area_ha": None,
        "note": None, "counterparty": None, "applied_by": None, "straw_handling": "removed",
        "corrects_seq": None, "retracts": False, "source": "manual", "mission": None,
        "client_id": None, "author_role": None, "chained": None,
    }  # fmt: skip
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_entries_written_before_keep_their_hash_and_new_amounts_are_hashed(fresh_db):
    migrate(fresh_db, "0012_trust")
    with Session(fresh_db) as s:
        field = Factory(s).field()
        code, field_id = field.code, field.id
    old_hash = hashlib.sha256(_v2_straw_bytes(code)).hexdigest()
    with fresh_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO diary_entries (field_id, chain_seq, occurred_at, recorded_at,"
                " activity, straw_handling, retracts, source, hash_version, prev_hash, hash)"
                " VALUES (:f, 1, :o, :o, 'straw', 'removed', :no, 'manual', 2, :p, :h)"
            ).bindparams(bindparam("o", type_=UTCDateTime)),
            {"f": field_id, "o": AT, "no": False, "p": "0" * 64, "h": old_hash},
        )
        conn.execute(
            text("UPDATE fields SET diary_length = 1, diary_head = :h WHERE id = :f"),
            {"h": old_hash, "f": field_id},
        )

    migrate(fresh_db)

    with Session(fresh_db) as s:
        assert diary.verify_chain(s, field_code=code).valid  # the old entry still verifies
        data = DiaryEntryCreate(
            field_code=code, occurred_at=AT, activity="straw", straw_handling="removed",
            straw_t_per_ha=5.5,
        )  # fmt: skip
        entry, _ = diary.append_entry(s, data=data)
        assert entry.straw_t_per_ha == 5.5
        check = diary.verify_chain(s, field_code=code)
        assert check.valid and check.entries == 2
        # The amount is in the hash: the same entry without it hashes differently.
        without = diary._fresh_copy(entry)
        without.straw_t_per_ha = None
        names = diary.EntryNames(field_code=code)
        assert diary.entry_hash_v2(without, names) != entry.hash
        with pytest.raises(InvalidInput, match="belongs to a 'straw' entry only"):
            diary.append_entry(
                s,
                data=DiaryEntryCreate(
                    field_code=code, occurred_at=AT, activity="observe", straw_t_per_ha=1.0
                ),
            )
