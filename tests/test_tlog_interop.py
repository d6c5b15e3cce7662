"""The log's checkpoints and proofs checked by independent implementations: Go's
golang.org/x/mod/sumdb/note opens the signed checkpoints, and sumdb/tlog checks every
inclusion proof and the consistency proof the API serves (tests/interop/tlogcheck.go).

Needs Go and Debian's golang-golang-x-mod-dev (built offline from /usr/share/gocode).
Under CI=true a missing Go fails the test; elsewhere it is skipped.
"""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from traceability import transparency as tl
from traceability.models import DiaryEntry, FarmField
from traceability.services import tlog

SOURCE = Path(__file__).parent / "interop" / "tlogcheck.go"
GOPATH = "/usr/share/gocode"
ORIGIN = "agritrace.test/interop"


@pytest.fixture(scope="module")
def tlogcheck(tmp_path_factory) -> Path:
    """The Go checker, built offline against Debian's golang.org/x/mod."""
    go = shutil.which("go")
    have_mod = Path(GOPATH, "src/golang.org/x/mod/sumdb/tlog").is_dir()
    if go is None or not have_mod:
        missing = "go" if go is None else "golang-golang-x-mod-dev"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} is missing: .ci/run installs golang-go golang-golang-x-mod-dev")
        pytest.skip(f"{missing} is not installed")
    out = tmp_path_factory.mktemp("go") / "tlogcheck"
    env = os.environ | {
        "GO111MODULE": "off",
        "GOPATH": GOPATH,
        "GOCACHE": str(out.parent / "cache"),
        "GOPROXY": "off",
        "GOFLAGS": "",
    }
    subprocess.run([go, "build", "-o", str(out), str(SOURCE)], check=True, env=env)
    return out


def _run(tlogcheck: Path, case: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    return subprocess.run([str(tlogcheck), str(path)], capture_output=True, text=True)


def _leaves(session) -> list[bytes]:
    rows = session.execute(
        select(FarmField.code, DiaryEntry.chain_seq, DiaryEntry.hash)
        .join(FarmField, FarmField.id == DiaryEntry.field_id)
        .order_by(DiaryEntry.id)
    ).all()
    return [tl.entry_leaf(c, s, h) for c, s, h in rows]


@pytest.fixture
def grown(client, session, factory):
    """A log of 5 entries with a checkpoint, grown to 11 with another; the API's proofs."""
    key = tl.new_key()
    fields = [factory.field(code=f"GO-{i}") for i in range(3)]
    for k in range(5):
        factory.entry(fields[k % 3], activity="observe", note=f"first {k}")
    first = tlog.publish(session, key=key, origin=ORIGIN)
    for k in range(6):
        factory.entry(fields[k % 2], activity="observe", note=f"then {k}")
    second = tlog.publish(session, key=key, origin=ORIGIN)
    leaves = _leaves(session)
    inclusion = []
    for size in (first.size, second.size):
        for i in range(size):
            r = client.get("/api/v1/transparency/inclusion", params={"index": i, "size": size})
            assert r.status_code == 200, r.text
            inclusion.append(
                {
                    "index": i,
                    "size": size,
                    "leaf_b64": base64.b64encode(leaves[i]).decode(),
                    "proof": r.json()["proof"],
                }
            )
    r = client.get("/api/v1/transparency/consistency", params={"from": first.size, "to": 11})
    return {
        "vkey": client.get("/api/v1/transparency/vkey").text.strip(),
        "checkpoints": [
            client.get("/api/v1/transparency/checkpoints").json()["data"][1]["note"],
            client.get("/tlog/checkpoint").text,
        ],
        "inclusion": inclusion,
        "consistency": [r.json()],
    }


def test_go_opens_the_checkpoints_and_checks_every_proof(tlogcheck, grown, tmp_path):
    assert grown["consistency"][0]["from"] == 5 and grown["consistency"][0]["to"] == 11
    out = _run(tlogcheck, grown, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("ok note.Open") == 2
    assert out.stdout.count("ok tlog.CheckRecord") == 5 + 11
    assert "ok tlog.CheckTree 5 to 11" in out.stdout


def test_go_refuses_a_forged_proof_and_another_key(tlogcheck, grown, tmp_path):
    forged = json.loads(json.dumps(grown))
    h = bytearray(base64.b64decode(forged["consistency"][0]["proof"][0]))
    h[0] ^= 1
    forged["consistency"][0]["proof"][0] = base64.b64encode(bytes(h)).decode()
    out = _run(tlogcheck, forged, tmp_path)
    assert out.returncode == 1 and "FAIL tlog.CheckTree" in out.stdout

    other = json.loads(json.dumps(grown))
    other["vkey"] = tl.vkey(ORIGIN, tl.new_key().public_key())
    out = _run(tlogcheck, other, tmp_path)
    assert out.returncode == 1 and "FAIL note.Open" in out.stdout


def test_go_opens_a_checkpoint_signed_with_its_own_published_key(tlogcheck, tmp_path):
    # Go's own published vector (note_test.go): its key, and a note it signed, opened by Go
    # after our code reproduced it (tests/test_transparency.py).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
    key = Ed25519PrivateKey.from_private_bytes(seed)
    cp = tl.Checkpoint(origin="PeterNeumann", size=1, root_hash=tl.leaf_hash(b"x"))
    case = {
        "vkey": "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "checkpoints": [tl.sign_checkpoint(cp, key)],
        "inclusion": [
            {"index": 0, "size": 1, "leaf_b64": base64.b64encode(b"x").decode(), "proof": []}
        ],
        "consistency": [],
    }
    out = _run(tlogcheck, case, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
