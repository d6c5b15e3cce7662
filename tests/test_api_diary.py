"""Production diaries: append-only, corrections, idempotent re-sends, roles, the hash chain."""

import hashlib
from datetime import UTC

import orjson
import pytest
from sqlalchemy import text
from sqlmodel import Session

from tests.record_helpers import API, rejected, rows
from traceability.models import DiaryEntry
from traceability.services import diary

GENESIS = "0" * 64


def _entry(field_code, **kw):
    return {
        "field_code": field_code,
        "occurred_at": "2026-02-01T08:00:00+07:00",
        "activity": "observe",
    } | kw


def _post(client, headers, body, status=201):
    r = client.post(f"{API}/diary", json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def field(factory):
    return factory.field()


# ---------------------------------------------------------------- append


def test_append_chains_entries(client, admin_headers, field, factory):
    product = factory.input(code="ANVIL", unit="L")
    season = factory.season(field, sown_on="2026-01-05")
    first = _post(client, admin_headers, _entry(field.code, note="lúa đẻ nhánh"))
    second = _post(
        client,
        admin_headers,
        _entry(
            field.code,
            occurred_at="2026-02-10T07:30:00+07:00",
            activity="spray",
            input_code="ANVIL",
            quantity=1.5,
            area_ha=2.0,
        ),
    )
    assert first["prev_hash"] == GENESIS and len(first["hash"]) == 64
    assert second["prev_hash"] == first["hash"]
    assert second["unit"] == product.unit == "L"  # taken from the product when not given
    assert second["dose_per_ha"] == pytest.approx(0.75)
    assert second["season_id"] == first["season_id"] == season.id
    assert second["occurred_at"].startswith("2026-02-10T00:30:00")  # stored as UTC
    got = client.get(f"{API}/diary/{second['id']}", headers=admin_headers)
    assert got.status_code == 200 and got.json() == second


def test_entry_before_any_season_has_none(client, admin_headers, field, factory):
    factory.season(field, sown_on="2026-06-01")
    assert _post(client, admin_headers, _entry(field.code))["season_id"] is None


def test_entry_after_a_season_ended_has_none(client, admin_headers, field, factory):
    season = factory.season(field, sown_on="2025-11-20", ended_on="2026-01-31")
    on_last_day = _post(
        client, admin_headers, _entry(field.code, occurred_at="2026-01-31T17:00:00+07:00")
    )
    fallow = _post(
        client, admin_headers, _entry(field.code, occurred_at="2026-02-15T08:00:00+07:00")
    )
    assert (on_last_day["season_id"], fallow["season_id"]) == (season.id, None)


def test_season_is_found_by_the_local_day(client, admin_headers, field, factory):
    # 06:00 on the sowing day in Bạc Liêu is 23:00 the day before in UTC.
    old = factory.season(field, sown_on="2025-08-01")
    new = factory.season(field, sown_on="2026-01-05")
    dawn = _post(client, admin_headers, _entry(field.code, occurred_at="2026-01-05T06:00:00+07:00"))
    eve = _post(client, admin_headers, _entry(field.code, occurred_at="2026-01-04T22:00:00Z"))
    before = _post(client, admin_headers, _entry(field.code, occurred_at="2026-01-04T16:00:00Z"))
    assert (dawn["season_id"], eve["season_id"], before["season_id"]) == (new.id, new.id, old.id)


def test_lists_of_a_field_a_season_an_activity_a_period(client, admin_headers, factory):
    a, b = factory.field(), factory.field()
    winter = factory.season(a, sown_on="2025-11-20")
    spring = factory.season(a, sown_on="2026-04-20")
    for day in ("2025-12-01", "2026-01-15", "2026-03-01", "2026-05-01", "2026-05-20"):
        _post(client, admin_headers, _entry(a.code, occurred_at=f"{day}T08:00:00+07:00"))
    _post(client, admin_headers, _entry(a.code, activity="irrigate"))
    _post(client, admin_headers, _entry(b.code))

    of_a = client.get(f"{API}/fields/{a.code}/diary", headers=admin_headers).json()
    assert of_a["count"] == 6 and {e["field_code"] for e in of_a["data"]} == {a.code}
    times = [e["occurred_at"] for e in of_a["data"]]
    assert times == sorted(times)  # oldest first
    listed = client.get(f"{API}/diary", params={"field_code": a.code}, headers=admin_headers)
    assert listed.json() == of_a

    def count(**params):
        r = client.get(f"{API}/diary", params=params, headers=admin_headers)
        assert r.status_code == 200, r.text
        return r.json()["count"]

    assert count() == 7
    assert count(season_id=winter.id) == 4
    assert count(season_id=spring.id) == 2
    assert count(activity="irrigate") == 1
    assert count(since="2026-03-01T00:00:00+07:00", until="2026-05-01T23:59:00+07:00") == 2

    page = client.get(
        f"{API}/fields/{a.code}/diary", params={"limit": 4, "offset": 4}, headers=admin_headers
    ).json()
    assert page["count"] == 6 and [e["id"] for e in page["data"]] == [
        e["id"] for e in of_a["data"][4:]
    ]


# ---------------------------------------------------------------- corrections


def test_correction_and_views(client, admin_headers, field):
    wrong = _post(client, admin_headers, _entry(field.code, activity="irrigate", note="10 cm"))
    other = _post(client, admin_headers, _entry(field.code, note="rầy nâu ít"))
    fix = _post(
        client,
        admin_headers,
        _entry(field.code, activity="irrigate", note="5 cm", corrects=wrong["id"]),
    )
    assert fix["corrects"] == wrong["id"]

    corrected = client.get(f"{API}/fields/{field.code}/diary", headers=admin_headers).json()
    assert [e["id"] for e in corrected["data"]] == [other["id"], fix["id"]]
    everything = client.get(
        f"{API}/fields/{field.code}/diary", params={"view": "all"}, headers=admin_headers
    ).json()
    assert [e["id"] for e in everything["data"]] == [wrong["id"], other["id"], fix["id"]]
    assert everything["data"][0]["corrected_by"] == fix["id"]
    # The replaced entry is still there, unchanged, for whoever audits.
    old = client.get(f"{API}/diary/{wrong['id']}", headers=admin_headers).json()
    assert (
        old["note"] == "10 cm" and old["hash"] == wrong["hash"] and old["corrected_by"] == fix["id"]
    )
    rejected(
        client.get(
            f"{API}/fields/{field.code}/diary", params={"view": "raw"}, headers=admin_headers
        ),
        422,
        "view",
    )
    rejected(client.get(f"{API}/diary", params={"view": "x"}, headers=admin_headers), 422, "view")


def test_a_correction_is_corrected_not_the_original_twice(client, admin_headers, field, db):
    a = _post(client, admin_headers, _entry(field.code, note="v1"))
    b = _post(client, admin_headers, _entry(field.code, note="v2", corrects=a["id"]))
    r = client.post(
        f"{API}/diary", json=_entry(field.code, note="v2b", corrects=a["id"]), headers=admin_headers
    )
    rejected(r, 409, f"entry {a['id']}", f"entry {b['id']}", "correct that one")
    c = _post(client, admin_headers, _entry(field.code, note="v3", corrects=b["id"]))
    view = client.get(f"{API}/fields/{field.code}/diary", headers=admin_headers).json()
    assert [e["note"] for e in view["data"]] == ["v3"] and view["data"][0]["id"] == c["id"]
    assert rows(db, "diary_entries") == {"diary_entries": 3}


def test_retraction(client, admin_headers, field):
    keep = _post(client, admin_headers, _entry(field.code, note="keep"))
    mistake = _post(client, admin_headers, _entry(field.code, note="wrong field"))
    withdrawal = _post(
        client,
        admin_headers,
        _entry(
            field.code, corrects=mistake["id"], retracts=True, note="entered on the wrong field"
        ),
    )
    assert withdrawal["retracts"] is True
    view = client.get(f"{API}/fields/{field.code}/diary", headers=admin_headers).json()
    assert [e["id"] for e in view["data"]] == [keep["id"]]
    everything = client.get(
        f"{API}/fields/{field.code}/diary", params={"view": "all"}, headers=admin_headers
    ).json()
    assert everything["count"] == 3


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"retracts": True}, 422, ["retracts", "corrects"]),
        ({"corrects": 999_999}, 422, ["999999"]),
        ({"corrects": 10**30}, 422, ["corrects"]),
        ({"corrects": 0}, 422, ["corrects"]),
    ],
)
def test_bad_corrections(client, admin_headers, field, db, change, status, words):
    rejected(
        client.post(f"{API}/diary", json=_entry(field.code) | change, headers=admin_headers),
        status,
        *words,
    )
    assert rows(db, "diary_entries") == {"diary_entries": 0}


def test_correction_must_name_an_entry_of_the_same_field(client, admin_headers, factory, db):
    a, b = factory.field(), factory.field()
    entry = _post(client, admin_headers, _entry(a.code))
    r = client.post(
        f"{API}/diary", json=_entry(b.code, corrects=entry["id"]), headers=admin_headers
    )
    rejected(r, 422, str(entry["id"]), b.code)
    assert rows(db, "diary_entries") == {"diary_entries": 1}


# ---------------------------------------------------------------- idempotent re-send


def test_client_id_records_once(client, admin_headers, field, db):
    body = _entry(field.code, note="offline", client_id="phone-7f3a-0001")
    first = client.post(f"{API}/diary", json=body, headers=admin_headers)
    again = client.post(f"{API}/diary", json=body, headers=admin_headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert rows(db, "diary_entries") == {"diary_entries": 1}
    other = client.post(f"{API}/diary", json=body | {"activity": "irrigate"}, headers=admin_headers)
    rejected(other, 409, "phone-7f3a-0001")
    rejected(
        client.post(f"{API}/diary", json=body | {"client_id": "short"}, headers=admin_headers),
        422,
        "client_id",
    )
    assert rows(db, "diary_entries") == {"diary_entries": 1}


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        (
            {"input_code": "ANVIL", "quantity": 1.0, "unit": "kg", "activity": "spray"},
            422,
            ["unit", "kg", "ANVIL", "L"],
        ),
        ({"input_code": "NOPE", "quantity": 1.0, "activity": "spray"}, 422, ["NOPE"]),
        ({"input_code": "ANVIL", "activity": "seed"}, 422, ["seed", "ANVIL"]),
        ({"quantity": 3.0}, 422, ["quantity", "unit"]),
        ({"quantity": -1.0, "unit": "L"}, 422, ["quantity"]),
        ({"unit": "gallon"}, 422, ["unit"]),
        ({"activity": "dance"}, 422, ["activity"]),
        ({"occurred_at": "2026-02-01T08:00:00"}, 422, ["occurred_at", "offset"]),
        ({"occurred_at": "yesterday"}, 422, ["occurred_at"]),
        ({"field_code": "GR-NONE"}, 404, ["GR-NONE"]),
        ({"area_ha": 0}, 422, ["area_ha"]),
        ({"note": "x" * 2001}, 422, ["note"]),
        ({"note": "rầy\x00"}, 422, ["note", "control"]),
        ({"counterparty": "x" * 201}, 422, ["counterparty"]),
        ({"applied_by": "x" * 201}, 422, ["applied_by"]),
        ({"applied_by": "anh\x00Hai"}, 422, ["applied_by", "control"]),
        ({"hash": "0" * 64}, 422, ["hash"]),
        ({"source": "mission"}, 422, ["source"]),
    ],
)
def test_bad_entry_is_rejected_and_nothing_stored(
    client, admin_headers, field, factory, db, change, status, words
):
    factory.input(code="ANVIL", unit="L")
    rejected(
        client.post(f"{API}/diary", json=_entry(field.code) | change, headers=admin_headers),
        status,
        *words,
    )
    assert rows(db, "diary_entries") == {"diary_entries": 0}


def test_non_finite_quantity(client, admin_headers, field, db):
    body = (
        f'{{"field_code":"{field.code}","occurred_at":"2026-02-01T08:00:00+07:00",'
        '"activity":"spray","quantity":NaN,"unit":"L"}'
    )
    headers = {**admin_headers, "Content-Type": "application/json"}
    rejected(client.post(f"{API}/diary", content=body, headers=headers), 422, "quantity")
    assert rows(db, "diary_entries") == {"diary_entries": 0}


# ---------------------------------------------------------------- VietGAP records


def test_supplier_buyer_and_who_applied_are_recorded(client, admin_headers, field, factory):
    factory.input(code="ANVIL", unit="L")
    bought = _post(
        client,
        admin_headers,
        _entry(field.code, activity="purchase", input_code="ANVIL", quantity=2)
        | {"counterparty": "  Đại lý Chú Tư, chợ Hộ Phòng "},
    )
    sprayed = _post(
        client,
        admin_headers,
        _entry(field.code, activity="spray", input_code="ANVIL", quantity=0.5)
        | {"applied_by": "Lê Văn Tám"},
    )
    sold = _post(
        client,
        admin_headers,
        _entry(field.code, activity="sale", quantity=6200, unit="kg")
        | {"counterparty": "Công ty Gạo Trung An"},
    )
    assert bought["counterparty"] == "Đại lý Chú Tư, chợ Hộ Phòng"  # trimmed
    assert bought["applied_by"] is None and sprayed["counterparty"] is None
    assert sprayed["applied_by"] == "Lê Văn Tám" and sold["counterparty"] == "Công ty Gạo Trung An"
    # A correction carries them too.
    fixed = _post(
        client,
        admin_headers,
        _entry(field.code, activity="spray", input_code="ANVIL", quantity=0.5)
        | {"applied_by": "Lê Văn Chín", "corrects": sprayed["id"]},
    )
    view = client.get(f"{API}/fields/{field.code}/diary", headers=admin_headers).json()["data"]
    assert [e["applied_by"] for e in view if e["activity"] == "spray"] == ["Lê Văn Chín"]
    assert fixed["corrects"] == sprayed["id"]
    assert _verify(client, admin_headers, field)["valid"] is True


def test_the_hash_covers_who_applied(client, admin_headers, field, db):
    entry = _post(client, admin_headers, _entry(field.code, applied_by="Lê Văn Tám"))
    with db.begin() as conn:
        conn.execute(
            text("UPDATE diary_entries SET applied_by = 'Nguyễn Văn Ba' WHERE id = :id"),
            {"id": entry["id"]},
        )
    report = _verify(client, admin_headers, field)
    assert [b["entry_id"] for b in report["breaks"]] == [entry["id"]]


def test_an_entry_without_them_keeps_the_hash_it_had_before_they_existed(
    client, admin_headers, field, factory, db
):
    factory.input(code="ANVIL", unit="L")
    posted = _post(
        client,
        admin_headers,
        _entry(field.code, activity="spray", input_code="ANVIL", quantity=0.5, note="rầy"),
    )
    with Session(db) as s:
        e = s.get(DiaryEntry, posted["id"])

    def iso(ts):
        return ts.isoformat(timespec="microseconds")

    # The content hashed before counterparty and applied_by were added, key for key.
    old = {
        "field_id": e.field_id,
        "season_id": e.season_id,
        "chain_seq": e.chain_seq,
        "occurred_at": iso(e.occurred_at),
        "recorded_at": iso(e.recorded_at),
        "activity": "spray",
        "input_id": e.input_id,
        "quantity": 0.5,
        "unit": "L",
        "area_ha": None,
        "note": "rầy",
        "corrects_id": None,
        "retracts": False,
        "source": "manual",
        "mission_id": None,
        "client_id": None,
        "author_id": e.author_id,
        "prev_hash": GENESIS,
        # The product's PHI and dose limit in force when it was written (set, so hashed).
        "chained": {"product": "ANVIL", "phi_days": 14, "max_dose_per_ha": 1.0},
    }
    expected = hashlib.sha256(orjson.dumps(old, option=orjson.OPT_SORT_KEYS)).hexdigest()
    # Written today, the entry is hashed in v2; the v1 form still gives what it always did.
    assert e.hash_version == 2
    e.hash_version = 1
    assert diary.entry_hash(e) == expected


def test_a_new_entry_is_hashed_over_rfc8785_bytes_naming_what_things_are(
    client, admin_headers, field, factory, db
):
    factory.input(code="ANVIL", unit="L")
    posted = _post(
        client,
        admin_headers,
        _entry(field.code, activity="spray", input_code="ANVIL", quantity=0.5, note="rầy"),
    )
    with Session(db) as s:
        e = s.get(DiaryEntry, posted["id"])
    recorded = e.recorded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # Written out by hand from RFC 8785: keys sorted, no spaces, 1.0 written 1, UTF-8 as is;
    # no row id (field, product and author by code and role: the bootstrap admin token is
    # no user, so null), no season.
    canonical = (
        '{"activity":"spray","applied_by":null,"area_ha":null,"author_role":null,'
        '"chained":{"max_dose_per_ha":1,"phi_days":14,"product":"ANVIL"},"client_id":null,'
        '"corrects_seq":null,"counterparty":null,"field":"' + field.code + '","mission":null,'
        '"note":"rầy","occurred_at":"2026-02-01T01:00:00.000000Z","prev":"' + GENESIS + '",'
        '"product":"ANVIL","quantity":0.5,"recorded_at":"' + recorded + '","retracts":false,'
        '"seq":1,"source":"manual","straw_handling":null,"unit":"L","v":2}'
    )
    assert posted["hash"] == e.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert e.hash_version == 2


# ---------------------------------------------------------------- who may write and read


def test_farmer_writes_and_reads_own_fields_only(client, factory, db):
    me, other = factory.farmer(), factory.farmer()
    mine, theirs = factory.field(farmer=me), factory.field(farmer=other)
    factory.entry(theirs, note="their secret")
    headers = factory.token("farmer", me)

    own = _post(client, headers, _entry(mine.code))
    rejected(
        client.post(f"{API}/diary", json=_entry(theirs.code), headers=headers), 403, theirs.code
    )
    assert rows(db, "diary_entries") == {"diary_entries": 2}

    listed = client.get(f"{API}/diary", headers=headers).json()
    assert [e["id"] for e in listed["data"]] == [own["id"]]  # only their own fields
    assert (
        "their secret"
        not in client.get(f"{API}/diary", params={"view": "all"}, headers=headers).text
    )
    rejected(client.get(f"{API}/fields/{theirs.code}/diary", headers=headers), 403)
    rejected(client.get(f"{API}/diary", params={"field_code": theirs.code}, headers=headers), 403)
    rejected(client.get(f"{API}/fields/{theirs.code}/diary/verify", headers=headers), 403)
    their_entry = client.get(
        f"{API}/diary", params={"field_code": theirs.code}, headers=factory.token("admin")
    )
    rejected(client.get(f"{API}/diary/{their_entry.json()['data'][0]['id']}", headers=headers), 403)
    assert client.get(f"{API}/fields/{mine.code}/diary/verify", headers=headers).json()["valid"]


def test_operator_and_anonymous_write_nothing(client, factory, field, db):
    rejected(
        client.post(f"{API}/diary", json=_entry(field.code), headers=factory.token("operator")),
        403,
        "mission",
    )
    rejected(client.post(f"{API}/diary", json=_entry(field.code)), 401, "token")
    rejected(client.get(f"{API}/diary"), 401)
    rejected(client.get(f"{API}/fields/{field.code}/diary/verify"), 401)
    assert rows(db, "diary_entries") == {"diary_entries": 0}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_entries_are_never_changed_through_the_api(client, admin_headers, field, db, method):
    entry = _post(client, admin_headers, _entry(field.code, note="as recorded"))
    for path in (f"/diary/{entry['id']}", "/diary", f"/fields/{field.code}/diary"):
        r = client.request(
            method, f"{API}{path}", json=_entry(field.code, note="rewritten"), headers=admin_headers
        )
        rejected(r, 405, "append-only", "corrects")
        assert "PUT" not in r.headers["allow"] and "GET" in r.headers["allow"]
    assert client.get(f"{API}/diary/{entry['id']}", headers=admin_headers).json() == entry
    assert rows(db, "diary_entries") == {"diary_entries": 1}


# ---------------------------------------------------------------- the hash chain


def _chain(client, headers, field, n):
    return [
        _post(client, headers, _entry(field.code, note=f"entry {i}", quantity=float(i), unit="kg"))
        for i in range(n)
    ]


def _verify(client, headers, field):
    r = client.get(f"{API}/fields/{field.code}/diary/verify", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_chain_verifies(client, admin_headers, field):
    empty = _verify(client, admin_headers, field)
    assert empty == {
        "field_code": field.code,
        "entries": 0,
        "valid": True,
        "head_hash": None,
        "breaks": [],
    }
    entries = _chain(client, admin_headers, field, 5)
    report = _verify(client, admin_headers, field)
    assert report["valid"] is True and report["entries"] == 5 and report["breaks"] == []
    assert report["head_hash"] == entries[-1]["hash"]


def test_an_edit_in_the_database_is_detected(client, admin_headers, field, db):
    entries = _chain(client, admin_headers, field, 4)
    target = entries[1]
    with db.begin() as conn:
        conn.execute(
            text("UPDATE diary_entries SET quantity = 0.1 WHERE id = :id"), {"id": target["id"]}
        )
    report = _verify(client, admin_headers, field)
    assert report["valid"] is False
    assert [(b["entry_id"], b["chain_seq"]) for b in report["breaks"]] == [(target["id"], 2)]
    assert "edited" in report["breaks"][0]["problem"]


def test_an_edit_that_rewrites_its_own_hash_is_still_detected(client, admin_headers, field, db):
    entries = _chain(client, admin_headers, field, 3)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE diary_entries SET note = 'nothing sprayed', hash = :h WHERE id = :id"),
            {"h": "f" * 64, "id": entries[0]["id"]},
        )
    report = _verify(client, admin_headers, field)
    assert report["valid"] is False
    problems = {(b["entry_id"], b["problem"]) for b in report["breaks"]}
    assert any(i == entries[0]["id"] and "edited" in p for i, p in problems)
    assert any(i == entries[1]["id"] and "previous entry" in p for i, p in problems)


def test_a_deleted_entry_is_reported_missing(client, admin_headers, field, db):
    entries = _chain(client, admin_headers, field, 5)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM diary_entries WHERE id = :id"), {"id": entries[2]["id"]})
    report = _verify(client, admin_headers, field)
    assert report["valid"] is False and report["entries"] == 4
    after = entries[3]["id"]
    assert {b["entry_id"] for b in report["breaks"]} == {after}  # reported once, where it happened
    assert any("entry 3 is missing" in b["problem"] for b in report["breaks"])


def test_deleting_the_newest_entries_is_detected(client, admin_headers, field, db):
    # The rest of the chain still links up; only the field's recorded head gives it away.
    entries = _chain(client, admin_headers, field, 4)
    with db.begin() as conn:
        conn.execute(
            text("DELETE FROM diary_entries WHERE id IN (:a, :b)"),
            {"a": entries[2]["id"], "b": entries[3]["id"]},
        )
    report = _verify(client, admin_headers, field)
    assert report["valid"] is False and report["entries"] == 2
    assert [b["chain_seq"] for b in report["breaks"]] == [2]
    assert "ends at entry 4" in report["breaks"][0]["problem"]


def test_chains_are_per_field(client, admin_headers, factory, db):
    a, b = factory.field(), factory.field()
    _chain(client, admin_headers, a, 2)
    only_b = _chain(client, admin_headers, b, 2)
    assert only_b[0]["prev_hash"] == GENESIS
    with db.begin() as conn:
        conn.execute(
            text("UPDATE diary_entries SET note = 'x' WHERE id = :id"), {"id": only_b[1]["id"]}
        )
    assert _verify(client, admin_headers, a)["valid"] is True
    assert _verify(client, admin_headers, b)["valid"] is False


def test_verify_unknown_field(client, admin_headers):
    rejected(
        client.get(f"{API}/fields/GR-NONE/diary/verify", headers=admin_headers), 404, "GR-NONE"
    )


def test_concurrent_writers_on_one_field_all_get_in(db, factory):
    # A farmer's phone and several ingesters may append to one field at once: every entry
    # must be recorded (no "busy" refusals) and the chain must stay one unbroken line.
    from concurrent.futures import ThreadPoolExecutor
    from datetime import datetime

    from sqlmodel import Session

    from traceability.models import DiaryEntryCreate
    from traceability.services import diary

    field = factory.field()

    def write(k: int) -> None:
        for i in range(8):
            data = DiaryEntryCreate(
                field_code=field.code,
                occurred_at=datetime.fromisoformat("2026-02-01T08:00:00+07:00"),
                activity="observe",
                note=f"writer {k} entry {i}",
            )
            with Session(db) as s:
                diary.append_entry(s, data=data)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(6)))  # re-raises any writer's error
    with Session(db) as s:
        report = diary.verify_chain(s, field_code=field.code)
    assert report.entries == 48 and report.valid, report.breaks
