"""A verdict nobody can quietly change: amendments after the lot, what the verdict rests on
in the hash chain, checkpoints a buyer verifies offline, and drone clocks out of season."""

import base64
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import orjson
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, func, select, update

from tests.mqtt import lawnmower
from tests.test_missions_measure import fly
from tests.test_trace_phi import local, spray
from traceability import transparency as tl
from traceability.config import get_settings
from traceability.models import (
    AmendmentAcceptance,
    DiaryEntry,
    DiaryEntryCreate,
    FarmField,
    InputProduct,
    Mission,
    MissionField,
    TlogLeaf,
    TraceSnapshot,
)
from traceability.services import diary, tlog
from traceability.services import trace as svc
from traceability.services.missions.evidence import line_figures
from traceability.services.trace.schema import TracePublic

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


@pytest.fixture
def failed(factory):
    """A farmer's field whose pesticide (PHI 14 days) was sprayed 9 days before the harvest
    of a recorded lot: by hand, 1 April 2026, harvest 10 April."""
    farmer = factory.farmer()
    field = factory.field(farmer=farmer)
    factory.season(field, sown_on=date(2026, 1, 5))
    product = factory.input(phi_days=14)
    entry = spray(factory, field, product, "2026-04-01T08:00:00")
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    return SimpleNamespace(farmer=farmer, field=field, product=product, entry=entry, lot=lot)


def _trace(client, code: str) -> dict:
    r = client.get(f"{API}/trace/{code}")
    assert r.status_code == 200, r.text
    data = r.json()
    # Every key the trust parts add is documented and round-trips through the model.
    assert TracePublic.model_validate(data).model_dump(mode="json") == data
    return data


def _page(client, code: str, lang: str = "vi") -> str:
    r = client.get(f"/t/{code}?lang={lang}")
    assert r.status_code == 200
    return r.text


def _withdraw(client, headers, w, when="2026-04-01T08:00:00+07:00"):
    body = {
        "field_code": w.field.code,
        "occurred_at": when,
        "activity": "spray",
        "corrects": w.entry.id,
        "retracts": True,
    }
    r = client.post(f"{API}/diary", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def _accept(client, headers, code, entry_id, reason="checked the sprayer's invoice"):
    return client.post(
        f"{API}/lots/{code}/amendments/{entry_id}/accept", json={"reason": reason}, headers=headers
    )


# ---------------------------------------------------------------- amendments after the lot


def test_a_withdrawal_after_the_lot_shows_and_needs_a_reviewer(
    client, factory, failed, admin_headers
):
    farmer_headers = factory.token("farmer", farmer=failed.farmer)
    assert _trace(client, failed.lot.code)["phi_compliant"] is False
    withdrawal = _withdraw(client, farmer_headers, failed)

    data = _trace(client, failed.lot.code)
    # 10 April - 1 April = 9 days < PHI 14: the diary as it stood still fails.
    assert data["phi_compliant"] is False
    (a,) = data["amendments"]
    assert a["entry_id"] == withdrawal["id"] and a["corrects_entry_id"] == failed.entry.id
    assert a["kind"] == "withdrawal" and a["recorded_by_role"] == "farmer"
    assert a["status"] == "pending_review" and a["counted"] is False and a["accepted"] is None
    assert a["verdict_as_recorded"] is False and a["verdict_with_amendment"] is True
    assert a["before"]["product_code"] == failed.product.code and a["after"] is None
    assert a["lot_code"] == failed.lot.code and a["field_code"] == failed.field.code
    assert "Nguyễn" not in str(a)  # a role, never a name
    page = _page(client, failed.lot.code)
    assert 'data-phi="false"' in page and 'data-amendment="pending_review"' in page
    assert "Rút bỏ ghi chép" in page and "nông dân" in page and "Chưa được thẩm định" in page
    assert "a farmer" in _page(client, failed.lot.code, "en")

    # Only the certifying body's reviewer (admin) accepts.
    assert _accept(client, farmer_headers, failed.lot.code, withdrawal["id"]).status_code == 403
    r = _accept(client, admin_headers, failed.lot.code, withdrawal["id"])
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "admin" and r.json()["entry_id"] == withdrawal["id"]
    again = _accept(client, admin_headers, failed.lot.code, withdrawal["id"])
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]

    data = _trace(client, failed.lot.code)
    assert data["phi_compliant"] is True
    (a,) = data["amendments"]
    assert a["status"] == "accepted" and a["counted"] is True
    assert a["accepted"]["by_role"] == "admin" and a["accepted"]["lot_code"] == failed.lot.code
    page = _page(client, failed.lot.code)
    assert 'data-phi="true"' in page and 'data-amendment="accepted"' in page
    assert "Tổ chức chứng nhận đã chấp nhận" in page


def test_a_withdrawal_and_its_acceptance_are_leaves_of_the_log_naming_what_they_are(
    client, session, factory, failed, admin_headers
):
    farmer_headers = factory.token("farmer", farmer=failed.farmer)
    withdrawal = _withdraw(client, farmer_headers, failed)
    assert _accept(client, admin_headers, failed.lot.code, withdrawal["id"]).status_code == 201
    row = session.get(DiaryEntry, withdrawal["id"])
    # The withdrawal's v2 hash names what it withdraws by its place in the chain, and the
    # author by role.
    assert (row.hash_version, row.author_role) == (2, "farmer")
    names = diary.EntryNames(failed.field.code, None, corrects_seq=1)
    assert diary.entry_hash(row, names) == row.hash
    assert diary.entry_hash(row, diary.EntryNames(failed.field.code, None, 2)) != row.hash

    assert tlog.sequence(session) == 3  # the spray, the withdrawal, the acceptance
    acc = session.execute(select(AmendmentAcceptance)).scalar_one()
    last = session.execute(select(TlogLeaf).where(TlogLeaf.idx == 2)).scalar_one()
    assert last.acceptance_id == acc.id and last.entry_id is None
    when = acc.accepted_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    by_hand = json.dumps(
        {"accepted_at": when, "field": failed.field.code, "hash": row.hash,
         "kind": "amendment-acceptance", "lot": failed.lot.code, "role": "admin"},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()  # fmt: skip
    assert last.leaf_hash == hashlib.sha256(b"\x00" + by_hand).hexdigest()


def test_a_correction_that_makes_the_verdict_worse_counts_at_once(client, factory):
    farmer = factory.farmer()
    field = factory.field(farmer=farmer)
    factory.season(field, sown_on=date(2026, 1, 5))
    product = factory.input(phi_days=14)
    entry = spray(factory, field, product, "2026-03-01T08:00:00")  # 40 days: kept
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    assert _trace(client, lot.code)["phi_compliant"] is True
    body = {
        "field_code": field.code,
        "occurred_at": "2026-04-05T08:00:00+07:00",  # 5 days before the harvest
        "activity": "spray",
        "input_code": product.code,
        "quantity": 1.5,
        "corrects": entry.id,
    }
    r = client.post(f"{API}/diary", json=body, headers=factory.token("farmer", farmer=farmer))
    assert r.status_code == 201, r.text

    data = _trace(client, lot.code)
    assert data["phi_compliant"] is False
    (a,) = data["amendments"]
    assert a["status"] == "counted_worse" and a["counted"] is True
    assert a["verdict_as_recorded"] is True and a["verdict_with_amendment"] is False
    assert a["after"]["occurred_at"] == "2026-04-05T01:00:00Z"
    assert 'data-amendment="counted_worse"' in _page(client, lot.code)


def test_a_new_spray_recorded_after_the_lot_counts_at_once(client, factory):
    field = factory.field()
    factory.season(field, sown_on=date(2026, 1, 5))
    product = factory.input(phi_days=14)
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    spray(factory, field, product, "2026-04-02T08:00:00")  # recorded late: 8 days
    data = _trace(client, lot.code)
    assert data["phi_compliant"] is False and data["amendments"] == []


def test_a_milled_lot_inherits_its_parents_amendments(client, factory, failed, admin_headers):
    milled = factory.lot(parents=[failed.lot], harvested_on=date(2026, 4, 20))
    withdrawal = _withdraw(client, factory.token("farmer", farmer=failed.farmer), failed)
    data = _trace(client, milled.code)
    assert data["phi_compliant"] is False
    (a,) = data["amendments"]
    assert a["lot_code"] == failed.lot.code and a["status"] == "pending_review"
    # Accepted while reviewing the milled lot: the parent's verdict, and so the milled
    # lot's, now use the amended diary.
    assert _accept(client, admin_headers, milled.code, withdrawal["id"]).status_code == 201
    data = _trace(client, milled.code)
    assert data["phi_compliant"] is True
    assert _trace(client, failed.lot.code)["phi_compliant"] is True


def test_accepting_what_is_no_amendment_is_refused_clearly(client, factory, failed, admin_headers):
    r = _accept(client, admin_headers, failed.lot.code, failed.entry.id)
    assert r.status_code == 422 and "corrects no entry" in r.json()["detail"]
    assert _accept(client, admin_headers, failed.lot.code, 999_999).status_code == 404
    assert _accept(client, admin_headers, "NO-SUCH-LOT", failed.entry.id).status_code == 404
    # A correction recorded before the lot is part of the diary the lot was judged on.
    other = factory.field(farmer=failed.farmer)
    first = spray(factory, other, failed.product, "2026-03-01T08:00:00")
    fix = factory.entry(
        other, activity="spray", input_code=failed.product.code, corrects=first.id, quantity=1.0
    )
    later = factory.lot(fields_=[other], harvested_on=date(2026, 4, 10))
    r = _accept(client, admin_headers, later.code, fix.id)
    assert r.status_code == 422 and "not an amendment" in r.json()["detail"]
    r = client.post(
        f"{API}/lots/{later.code}/amendments/{fix.id}/accept", json={}, headers=admin_headers
    )
    assert r.status_code == 422


# ---------------------------------------------------------------- what the verdict rests on


def test_a_products_phi_edited_in_sql_is_caught(client, session, failed):
    assert failed.entry.chained == {
        "product": failed.product.code,
        "phi_days": 14,
        "max_dose_per_ha": 1.0,
    }
    session.execute(
        update(InputProduct).where(InputProduct.id == failed.product.id).values(phi_days=7)
    )
    session.commit()

    data = _trace(client, failed.lot.code)
    # With a PHI of 7 the 9 days would pass: the chained 14 still judges it.
    assert data["phi_compliant"] is False
    assert data["diary_integrity"]["valid"] is True  # the catalogue is outside the chain
    assert data["diary_integrity"]["records_match_chain"] is False
    (d,) = data["diary_integrity"]["discrepancies"]
    assert (d["kind"], d["chained"], d["recorded"]) == ("product_phi_days", 14, 7)
    assert d["entry_id"] == failed.entry.id
    page = _page(client, failed.lot.code)
    assert 'id="discrepancies"' in page and 'data-discrepancy="product_phi_days"' in page


def _drone_mission(session, field, product, at: datetime) -> Mission:
    """A completed mission over ``field`` and its drone line chaining what was measured."""
    m = Mission(
        mission_id=f"M-TRUST-{field.id}-{at:%m%d}",
        drone_code="BL-DR-009",
        type="spray",
        product_code=product.code,
        product_id=product.id,
        status="complete",
        started_at=at,
        ended_at=at + timedelta(minutes=12),
        point_count=120,
        applied_amount=20.0,
        amount_unit="L",
        product_per_unit=0.05,
        product_amount=1.0,
        product_unit="L",
        treated_area_ha=1.9,
        dirty=False,
    )
    session.add(m)
    session.flush()
    session.add(
        MissionField(
            mission_pk=m.id,
            field_id=field.id,
            treated_area_ha=1.9,
            coverage_pct=95.0,
            applied_amount=20.0,
            dose_per_ha=20.0 / 1.9,
            product_amount=1.0,
            product_dose_per_ha=1.0 / 1.9,
        )
    )
    session.commit()
    figures = line_figures(
        m,
        area_ha=1.9,
        quantity=1.0,
        unit="L",
        applied_amount=20.0,
        amount_unit="L",
        points_sha256=hashlib.sha256(b"the fixes").hexdigest(),
    )
    diary.append_entry(
        session,
        data=DiaryEntryCreate(
            field_code=field.code,
            occurred_at=at,
            activity="spray",
            input_code=product.code,
            quantity=1.0,
            area_ha=1.9,
        ),
        source="drone",
        mission_id=m.mission_id,
        chained={"mission": figures},
    )
    return m


def test_a_missions_dates_edited_in_sql_are_caught(client, session, factory):
    field = factory.field()
    factory.season(field, sown_on=date(2026, 1, 5))
    product = factory.input(phi_days=14)
    m = _drone_mission(session, field, product, local("2026-04-01T07:00:00"))
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    assert _trace(client, lot.code)["phi_compliant"] is False  # 9 days < 14
    assert diary.verify_chain(session, field_code=field.code).valid

    # Moved seven weeks back, it would be 66 days before the harvest: kept.
    session.execute(
        update(Mission)
        .where(Mission.id == m.id)
        .values(started_at=local("2026-02-03T07:00:00"), ended_at=local("2026-02-03T07:12:00"))
    )
    session.commit()

    data = _trace(client, lot.code)
    assert data["phi_compliant"] is False
    kinds = {d["kind"]: d for d in data["diary_integrity"]["discrepancies"]}
    assert set(kinds) == {"mission_started_at", "mission_ended_at"}
    assert kinds["mission_started_at"]["chained"] == "2026-04-01T00:00:00+00:00"
    assert kinds["mission_started_at"]["recorded"] == "2026-02-03T00:00:00+00:00"
    (p,) = data["phi"]["lots"][0]["products"]
    assert p["last_application_on"] == "2026-04-01" and p["days_before_harvest"] == 9
    page = _page(client, lot.code, "en")
    assert 'data-discrepancy="mission_started_at"' in page and "the flight&#39;s start" in page


# ---------------------------------------------------------------- inclusion proofs, offline


def _rfc9162_root(index: int, size: int, leaf_hash: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2, written out from the RFC: the root an inclusion proof leads to."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn //= 2
                    sn //= 2
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn //= 2
        sn //= 2
    return r if sn == 0 else None


def _verify_offline(field: dict, public: Ed25519PublicKey) -> bool:
    """What a buyer does with the trace JSON alone and the log's public key kept apart."""
    anchor, chain = field["anchor"], field["diary_chain"]
    cp = anchor["checkpoint"]
    # The C2SP signed note: text, a blank line, "— name base64(key ID ‖ signature)".
    text, sig_line = cp["note"].split("\n\n")
    sig = base64.b64decode(sig_line.rsplit(" ", 1)[1])
    try:
        public.verify(sig[4:], (text + "\n").encode())
    except InvalidSignature:
        return False
    _origin, size, root_b64 = text.split("\n")
    root = base64.b64decode(root_b64)
    # The leaf as today's diary gives it: RFC 8785 JSON of the field's code, the entry's
    # place in the chain and its hash (ASCII strings and an integer: sorted, no spaces).
    leaf = json.dumps(
        {"field": field["code"], "hash": chain["head_hash"], "kind": "diary-entry",
         "seq": chain["entries"]},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()  # fmt: skip
    leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
    path = [bytes.fromhex(h) for h in anchor["audit_path"]]
    return _rfc9162_root(anchor["leaf_index"], int(size), leaf_hash, path) == root


def _rewrite_in_sql(db, field_id: int) -> None:
    """Change the first entry's quantity and recompute every hash and the head, in SQL."""
    t = DiaryEntry.__table__
    with db.begin() as conn:
        code = conn.execute(select(FarmField.code).where(FarmField.id == field_id)).scalar_one()
        products = dict(conn.execute(select(InputProduct.id, InputProduct.code)).all())
        rows = conn.execute(select(t).where(t.c.field_id == field_id).order_by(t.c.chain_seq))
        prev = diary.GENESIS
        for row in rows.mappings().all():
            values = dict(row) | {"prev_hash": prev}
            if row["chain_seq"] == 1:
                values["quantity"] = 0.1
            names = diary.EntryNames(code, products.get(row["input_id"]))
            h = diary.entry_hash(SimpleNamespace(**values), names)
            conn.execute(
                update(t)
                .where(t.c.id == row["id"])
                .values(quantity=values["quantity"], prev_hash=prev, hash=h)
            )
            prev = h
        conn.execute(update(FarmField).where(FarmField.id == field_id).values(diary_head=prev))


def test_a_buyer_verifies_the_anchor_offline_until_history_is_rewritten(
    client, session, db, factory, failed
):
    other = factory.field()
    factory.entry(other, activity="observe")
    assert _trace(client, failed.lot.code)["fields"][0]["anchor"] is None
    assert 'data-anchor="none"' in _page(client, failed.lot.code)
    key = tl.new_key()
    row = tlog.publish(session, key=key, origin="test/diaries")
    entries = session.execute(select(func.count()).select_from(DiaryEntry)).scalar_one()
    # A checkpoint does not make the stored trace stale (its older anchor, here none, is
    # still true); built afresh, the trace carries the newest anchor.
    session.execute(delete(TraceSnapshot))
    session.commit()

    data = _trace(client, failed.lot.code)
    (field,) = data["fields"]
    anchor = field["anchor"]
    assert anchor["checkpoint"]["id"] == row.id
    assert anchor["checkpoint"]["tree_size"] == entries == 2
    head = field["diary_chain"]["head_hash"]
    assert anchor["leaf"] == (
        f'{{"field":"{failed.field.code}","hash":"{head}","kind":"diary-entry","seq":1}}'
    )
    assert anchor["diary_matches"] is True and data["diary_integrity"]["anchors_hold"] is True
    # The key named in the JSON (a signed-note vkey) is the one the test keeps apart.
    named = tl.Verifier.parse(anchor["checkpoint"]["public_key"]).public
    assert named.public_bytes_raw() == key.public_key().public_bytes_raw()
    assert _verify_offline(field, key.public_key())
    assert not _verify_offline(field, tl.new_key().public_key())
    page = _page(client, failed.lot.code)
    assert f"Đã neo vào điểm kiểm tra số {row.id} ngày" in page
    assert f"Anchored in checkpoint {row.id} of" in _page(client, failed.lot.code, "en")

    _rewrite_in_sql(db, failed.field.id)
    data = _trace(client, failed.lot.code)
    (field,) = data["fields"]
    assert field["diary_chain"]["valid"] is True  # every hash was recomputed
    assert field["anchor"]["diary_matches"] is False
    assert data["diary_integrity"]["anchors_hold"] is False
    assert not _verify_offline(field, key.public_key())
    page = _page(client, failed.lot.code)
    assert 'data-anchor="broken"' in page and "đã bị viết lại sau khi neo" in page


def test_a_new_checkpoint_leaves_the_stored_trace_and_the_lot_s_proof_is_served_apart(
    client, session, factory, failed
):
    from traceability.services.trace import snapshot

    key = tl.new_key()
    tlog.publish(session, key=key, origin="test/diaries")
    milled = factory.lot(parents=[failed.lot], harvested_on=date(2026, 4, 12))
    _trace(client, milled.code)  # built and stored
    base = "https://trace.example.vn"
    assert snapshot.scan(session, code=milled.code, variant="json", base_url=base).fresh
    other = factory.field()
    factory.entry(other, activity="observe")  # a diary of another field grows the log
    newest = tlog.publish(session, key=key, origin="test/diaries")
    session.commit()
    # The stored trace still holds: its anchor, of the older checkpoint, is still a proof.
    assert snapshot.scan(session, code=milled.code, variant="json", base_url=base).fresh

    r = client.get(f"{API}/lots/{milled.code}/proof")
    assert r.status_code == 200, r.text
    proof = r.json()
    assert proof["checkpoint"]["tree_size"] == newest.size == 2
    (field,) = proof["fields"]  # the parent lot's field, through the lineage
    assert field["field_code"] == failed.field.code and proof["not_anchored"] == []
    root = bytes.fromhex(proof["checkpoint"]["root_hash"])
    leaf = hashlib.sha256(b"\x00" + field["leaf"].encode()).digest()
    assert field["leaf_hash"] == leaf.hex() and field["diary_matches"] is True
    path = [bytes.fromhex(h) for h in field["audit_path"]]
    assert _rfc9162_root(field["leaf_index"], newest.size, leaf, path) == root
    assert tl.open_checkpoint(proof["checkpoint"]["note"], tl.Verifier.of(
        "test/diaries", key.public_key())).size == 2  # fmt: skip
    assert client.get(f"{API}/lots/NO-SUCH/proof").status_code == 404


# ---------------------------------------------------------------- drone clocks out of season


def test_missions_outside_the_season_are_named_not_silently_dropped(client, session, factory):
    field = factory.field()
    factory.season(field, sown_on=date(2026, 1, 5))
    product = factory.input(phi_days=14)
    _drone_mission(session, field, product, local("2025-12-20T07:00:00"))  # before sowing
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    # After the harvest, and recorded after the lot (one recorded before it would count:
    # a harvest dated before work already in the record cannot leave it out).
    _drone_mission(session, field, product, local("2026-04-20T07:00:00"))

    data = _trace(client, lot.code)
    warnings = {w["kind"]: w for w in data["mission_warnings"]}
    assert set(warnings) == {"before_season", "after_harvest"}
    assert warnings["before_season"]["date"] == "2025-12-20"
    assert warnings["after_harvest"]["date"] == "2026-04-20"
    assert all(w["counted_in_phi"] is False for w in warnings.values())
    assert "not counted in this lot's PHI" in warnings["after_harvest"]["message"]
    # Neither counts: no pesticide in the window.
    assert data["phi_compliant"] is True and data["phi"]["lots"][0]["products"] == []
    page = _page(client, lot.code)
    assert 'data-warning="before_season"' in page and "sau khi thu hoạch lô" in page
    assert "Không tính vào thời gian cách ly của lô này" in page


def test_a_mission_of_the_next_season_is_no_disagreement(client, session, factory):
    field = factory.field()
    factory.season(field, sown_on=date(2026, 1, 5))
    product = factory.input(phi_days=14)
    first = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    factory.season(field, sown_on=date(2026, 4, 15))
    _drone_mission(session, field, product, local("2026-04-20T07:00:00"))
    second = factory.lot(fields_=[field], harvested_on=date(2026, 7, 30))
    milled = factory.lot(parents=[first, second], harvested_on=date(2026, 8, 1))
    data = _trace(client, milled.code)
    assert data["mission_warnings"] == []
    only_first = _trace(client, first.code)
    assert [w["kind"] for w in only_first["mission_warnings"]] == ["after_harvest"]


def test_entries_chain_their_products_limits_and_old_ones_keep_their_hash(session, factory):
    field = factory.field()
    product = factory.input(phi_days=21, max_dose_per_ha=0.5)
    e = spray(factory, field, product, "2026-02-01T08:00:00")
    plain = factory.entry(field, activity="observe")
    assert e.chained == {"product": product.code, "phi_days": 21, "max_dose_per_ha": 0.5}
    assert plain.chained is None
    # No key for what is not set: the hash is the one an entry had before the column existed.
    content = {
        k: getattr(plain, k)
        for k in ("field_id", "season_id", "chain_seq", "input_id", "quantity", "area_ha",
                  "note", "corrects_id", "source", "mission_id", "client_id", "author_id",
                  "prev_hash")
    }  # fmt: skip
    content |= {
        "occurred_at": plain.occurred_at.isoformat(timespec="microseconds"),
        "recorded_at": plain.recorded_at.isoformat(timespec="microseconds"),
        "activity": "observe",
        "unit": None,
        "retracts": False,
    }
    # Written today, the entry is hashed in v2; the v1 form (still used to verify entries
    # written before) gives what it gave before the column existed.
    assert plain.hash_version == 2
    assert diary.entry_hash_v1(plain) == (
        hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    )
    assert diary.verify_chain(session, field_code=field.code).valid


# ---------------------------------------------------------------- the page on a phone

from tests.test_app_e2e import SHOTS, browser  # noqa: E402, F401  (the shared headless Chromium)

WITNESSED = {
    "vi": "Nhân chứng độc lập đã đồng ký: witness.test/w1",
    "en": "Cosigned by independent witnesses: witness.test/w1",
}


UNVERIFIED = {
    "vi": "Chữ ký của nhân chứng chưa được xác minh bằng khoá đã cấu hình: ",
    "en": "Cosignature not verified against the configured witness keys: ",
}


def _configure_witnesses(monkeypatch, *keys: tuple[str, object]) -> None:
    """AGRITRACE_WITNESS_KEYS: the cosigner vkeys of the witnesses the log is configured with."""
    vkeys = " ".join(tl.cosigner_vkey(name, key.public_key()) for name, key in keys)
    monkeypatch.setenv("AGRITRACE_WITNESS_KEYS", vkeys)
    get_settings.cache_clear()


def _cosigned(session, row, monkeypatch) -> None:
    """The checkpoint with a configured witness's cosignature line, as
    ``request_cosignature`` keeps it."""
    key = tl.new_key()
    _configure_witnesses(monkeypatch, ("witness.test/w1", key))
    text = row.note.split("\n\n")[0] + "\n"
    row.note += tl.cosign(text, name="witness.test/w1", key=key, timestamp=1)
    session.add(row)
    session.commit()


def test_the_trace_names_the_witnesses_who_cosigned_its_checkpoint(
    client, session, failed, monkeypatch
):
    _cosigned(session, tlog.publish(session, key=tl.new_key(), origin="test/diaries"), monkeypatch)
    (field,) = _trace(client, failed.lot.code)["fields"]
    assert field["anchor"]["checkpoint"]["witnesses"] == ["witness.test/w1"]
    assert field["anchor"]["checkpoint"]["witnesses_verified"] == ["witness.test/w1"]
    for lang, words in WITNESSED.items():
        page = _page(client, failed.lot.code, lang)
        assert words in page and UNVERIFIED[lang] not in page


def test_a_forged_or_unknown_cosignature_is_not_counted_and_says_so(
    client, session, failed, monkeypatch
):
    """Three cosignature lines on the anchoring checkpoint: w1's, valid by its configured
    key; w2's, by its configured key but signed over another checkpoint (a forgery copied
    from elsewhere); w3's, valid but by a key the log is not configured with."""
    keys = {n: tl.new_key() for n in ("witness.test/w1", "witness.test/w2", "witness.test/w3")}
    _configure_witnesses(
        monkeypatch, *[(n, keys[n]) for n in ("witness.test/w1", "witness.test/w2")]
    )
    row = tlog.publish(session, key=tl.new_key(), origin="test/diaries")
    text = row.note.split("\n\n")[0] + "\n"
    other = text.replace(f"\n{row.size}\n", f"\n{row.size + 1}\n")
    assert other != text
    row.note += tl.cosign(text, name="witness.test/w1", key=keys["witness.test/w1"], timestamp=5)
    row.note += tl.cosign(other, name="witness.test/w2", key=keys["witness.test/w2"], timestamp=6)
    row.note += tl.cosign(text, name="witness.test/w3", key=keys["witness.test/w3"], timestamp=7)
    session.add(row)
    session.commit()

    checkpoint = _trace(client, failed.lot.code)["fields"][0]["anchor"]["checkpoint"]
    assert checkpoint["witnesses"] == ["witness.test/w1", "witness.test/w2", "witness.test/w3"]
    assert checkpoint["witnesses_verified"] == ["witness.test/w1"]
    found = [
        (c["name"], c["verified"], c["problem"], c["timestamp"]) for c in checkpoint["cosignatures"]
    ]
    assert found == [
        ("witness.test/w1", True, None, 5),
        ("witness.test/w2", False, "bad-signature", 6),
        ("witness.test/w3", False, "unknown-key", 7),
    ]
    proof = client.get(f"{API}/lots/{failed.lot.code}/proof").json()
    assert [(c["name"], c["verified"]) for c in proof["checkpoint"]["cosignatures"]] == [
        ("witness.test/w1", True), ("witness.test/w2", False), ("witness.test/w3", False)
    ]  # fmt: skip
    for lang, words in WITNESSED.items():
        page = _page(client, failed.lot.code, lang)
        assert words in page  # w1 alone
        assert UNVERIFIED[lang] + "witness.test/w2, witness.test/w3" in page


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_trust_parts_fit_a_360px_phone(
    client,
    session,
    factory,
    failed,
    browser,  # noqa: F811
    lang,
    monkeypatch,
):
    """Amendment, record-vs-chain discrepancy, a mission out of season and an anchor, all
    on one page: headless Chromium at 360 px measures no sideways scroll."""
    _withdraw(client, factory.token("farmer", farmer=failed.farmer), failed)
    _drone_mission(session, failed.field, failed.product, local("2026-04-25T07:00:00"))
    session.execute(
        update(InputProduct).where(InputProduct.id == failed.product.id).values(phi_days=7)
    )
    session.commit()
    row = tlog.publish(session, key=tl.new_key(), origin="test/diaries")
    _cosigned(session, row, monkeypatch)
    # And a cosignature by a witness the log is not configured with: named, not counted.
    row.note += tl.cosign(
        row.note.split("\n\n")[0] + "\n", name="witness.test/w9", key=tl.new_key(), timestamp=2
    )
    session.add(row)
    session.commit()
    html = _page(client, failed.lot.code, lang)
    for marker in ('id="amendments"', 'id="discrepancies"', 'id="mission-warnings"'):
        assert marker in html
    assert WITNESSED[lang] in html and UNVERIFIED[lang] + "witness.test/w9" in html
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.set_content(html)
    # Every element of the trust parts ends inside the screen (the PHI table above them is
    # the page's own business: English at 360 px is being fixed there).
    right = page.evaluate(
        "Math.max(...[...document.querySelectorAll("
        "'#amendments *, #discrepancies *, #mission-warnings *, #integrity *')]"
        ".map(e => e.getBoundingClientRect().right))"
    )
    assert 0 < right <= 360
    if lang == "vi":
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"trace-trust-{lang}.png"), full_page=True)
    context.close()


# ---------------------------------------------------------------- through the real ingest


def _digest_by_hand(points: list[dict]) -> str:
    lines = []
    for p in sorted(points, key=lambda p: (p["ts"], p["seq"])):
        t = datetime.fromisoformat(p["ts"]).timestamp()
        lines.append(f"{t:.3f},{p['lon']:.7f},{p['lat']:.7f},{1 if p['spraying'] else 0}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


@pytest.fixture
def flown(session, factory):
    """A 100 m x 200 m field flown by a real measured mission (1 March 2026, 08:00 local),
    whose plan also names a field 5 km east; both fields have a season and a lot."""
    near = factory.field(code="F1", x0=0, y0=0, width=100, height=200)
    far = factory.field(code="F2", x0=5000, y0=0, width=100, height=200)
    for f in (near, far):
        factory.season(f, sown_on=date(2026, 1, 5))
    factory.input(code="P1", phi_days=14, max_dose_per_ha=10.0)
    factory.drone(code="D1", swath_m=10.0)
    points = lawnmower(mission_id="MR1")
    start = {
        "product_code": "P1",
        "swath_m": 10.0,
        "tank_mix": {"product_per_l": 0.05},
        "planned_field_codes": ["F1", "F2"],
    }
    fly(session, "MR1", points, start=start, end={})
    lot_near = factory.lot(fields_=[near], harvested_on=date(2026, 3, 10))
    lot_far = factory.lot(fields_=[far], harvested_on=date(2026, 3, 10))
    return SimpleNamespace(near=near, far=far, points=points, lot_near=lot_near, lot_far=lot_far)


def test_a_drone_line_chains_the_measured_figures_and_its_points_digest(client, session, flown):
    (line,) = session.execute(select(DiaryEntry).where(DiaryEntry.mission_id == "MR1")).scalars()
    m = line.chained["mission"]
    assert m["points_sha256"] == _digest_by_hand(flown.points)
    assert m["started_at"] == "2026-03-01T01:00:00+00:00" and m["product_code"] == "P1"
    # Ten 10 m passes over the 100 m x 200 m field: 2 ha, as measured.
    assert m["treated_area_ha"] == pytest.approx(2.0, rel=0.01)
    assert line.chained["phi_days"] == 14
    assert diary.verify_chain(session, field_code="F1").valid
    # 1 March to 10 March is 9 days < 14, from the chained figures.
    data = _trace(client, flown.lot_near.code)
    assert data["phi_compliant"] is False
    assert data["diary_integrity"]["records_match_chain"] is True
    assert data["mission_warnings"] == []


def test_a_mission_far_from_a_field_it_claims_is_named(client, flown):
    data = _trace(client, flown.lot_far.code)
    (w,) = data["mission_warnings"]
    assert (w["kind"], w["mission_id"], w["field_code"]) == ("far_from_field", "MR1", "F2")
    # The easternmost pass flies at x = 95 m; the far field starts at x = 5000 m.
    assert w["distance_m"] == pytest.approx(4905, abs=2)
    assert w["counted_in_phi"] is False and "treated nothing here" in w["message"]
    assert data["phi_compliant"] is True  # nothing was sprayed on F2
    page = _page(client, flown.lot_far.code)
    assert 'data-warning="far_from_field"' in page and "4.905 m" in page


def test_the_phi_in_force_at_the_last_application_judges_it(client, session, factory):
    field = factory.field()
    factory.season(field, sown_on=date(2026, 1, 5))
    product = factory.input(phi_days=14)
    spray(factory, field, product, "2026-03-01T08:00:00")
    # The label is revised to 30 days between the two sprays.
    session.execute(update(InputProduct).where(InputProduct.id == product.id).values(phi_days=30))
    session.commit()
    spray(factory, field, product, "2026-03-20T08:00:00")
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    data = _trace(client, lot.code)
    (p,) = data["phi"]["lots"][0]["products"]
    # 10 April - 20 March = 21 days, under the 30 in force on 20 March.
    assert (p["days_before_harvest"], p["phi_days"], p["phi_compliant"]) == (21, 30, False)
    (d,) = data["diary_integrity"]["discrepancies"]
    assert (d["chained"], d["recorded"]) == (14, 30)  # the first spray was written under 14


def test_the_mission_itself_is_flagged_for_its_operator(session, flown):
    from traceability.services import missions

    m = missions.get_mission(session, mission_id="MR1")
    (flag,) = [f for f in m.flags if f["code"] == "far_from_field"]
    assert flag["field_code"] == "F2" and flag["distance_m"] == pytest.approx(4905, abs=2)
