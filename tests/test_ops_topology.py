"""The production topology on this machine, with real processes: a Mosquitto that lets in
only the accounts ``agritrace devices`` wrote (password file and ACL, persistence on),
PostgreSQL (and SQLite), and two ``agritrace ingest`` processes on one shared subscription.
"""

import base64
import hashlib
import shutil
import signal
import subprocess
import uuid

import pytest

from drone_ingest.accounts import check_password, hash_password
from drone_ingest.publisher import DronePublisher, Publisher, PublishError
from tests.conftest import unavailable
from tests.mqtt import (  # noqa: F401 - fixtures
    MOSQUITTO_BIN,
    count_points,
    count_rejects,
    prefix_fixture,
    publish_points,
    stream,
    wait_until,
)
from tests.ops import IngestProcess, SecureMosquitto, sample

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path, prefix):
    """A Mosquitto with accounts: two drones and the ingesters."""
    if not shutil.which(MOSQUITTO_BIN):
        unavailable("the mosquitto binary", f"{MOSQUITTO_BIN} does not exist")
    mosq = SecureMosquitto(tmp_path)
    mosq.passwords = {
        "BL-DR-101": mosq.add("BL-DR-101", prefix=prefix),
        "BL-DR-102": mosq.add("BL-DR-102", prefix=prefix),
        "ingester": mosq.add("ingester", prefix=prefix, ingester=True),
    }
    mosq.start()
    yield mosq
    mosq.stop()


def test_password_entries_are_mosquitto_passwd_s_own(tmp_path):
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        unavailable("mosquitto_passwd", "not installed")
    passwd = tmp_path / "passwd"
    subprocess.run([tool, "-c", "-b", str(passwd), "drone", "Mật khẩu-1"], check=True)
    entry = passwd.read_text().strip().split(":", 1)[1]
    _, kind, iterations, salt, digest = entry.split("$")

    # The same password, salt and rounds give mosquitto_passwd's very line.
    assert kind == "7" and len(base64.b64decode(salt)) == 12
    assert hash_password("Mật khẩu-1", salt=base64.b64decode(salt), iterations=int(iterations)) == (
        entry
    )
    # ... which is PBKDF2-HMAC-SHA512 over the salt's bytes, computed here independently.
    expected = hashlib.pbkdf2_hmac(
        "sha512", "Mật khẩu-1".encode(), base64.b64decode(salt), int(iterations)
    )
    assert base64.b64decode(digest) == expected
    assert check_password(entry, "Mật khẩu-1") and not check_password(entry, "mật khẩu-1")


def test_broker_lets_in_only_the_accounts_written(broker, prefix):
    good = broker.url_for("BL-DR-101", broker.passwords["BL-DR-101"])
    drone = DronePublisher(good, drone_id="BL-DR-101", prefix=prefix)
    drone.connect()
    drone.close()
    for url in (
        broker.url_for("BL-DR-101", broker.passwords["BL-DR-102"]),  # another's password
        broker.url_for("BL-DR-999", "whatever"),  # no account
        f"mqtt://127.0.0.1:{broker.port}",  # anonymous
    ):
        with pytest.raises(PublishError, match="did not accept"):
            DronePublisher(url, drone_id="BL-DR-101", prefix=prefix).connect()

    # Rotating a password: the old one is refused, the new one works (after a reload).
    new = broker.add("BL-DR-101", prefix=prefix)
    broker.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: _accepted(broker.url_for("BL-DR-101", new), prefix), what="the new password")
    assert not _accepted(good, prefix)


def _accepted(url: str, prefix: str) -> bool:
    try:
        DronePublisher(url, drone_id="BL-DR-101", prefix=prefix).connect()
    except PublishError:
        return False
    return True


@pytest.fixture
def two_ingesters(broker, db, prefix, tmp_path):
    """Two ``agritrace ingest`` processes sharing one subscription, as the ingester user."""
    url = broker.url_for("ingester", broker.passwords["ingester"])
    procs = [
        IngestProcess(
            mqtt_url=url,
            engine=db,
            prefix=prefix,
            client_id=f"ingest-{n}-{uuid.uuid4().hex[:6]}",
            log=tmp_path / f"ingest-{n}.log",
        )
        for n in (1, 2)
    ]
    for proc in procs:
        proc.start()
    yield procs
    for proc in procs:
        proc.kill()


def _drone_publisher(broker, drone: str) -> Publisher:
    return Publisher(mqtt_url=broker.url_for(drone, broker.passwords[drone]))


def test_two_ingesters_split_a_stream_and_survive_a_kill_and_poison(
    broker, two_ingesters, factory, db, prefix
):
    a, b = factory.drone(code="BL-DR-101").code, factory.drone(code="BL-DR-102").code
    ing1, ing2 = two_ingesters
    pub_a, pub_b = _drone_publisher(broker, a), _drone_publisher(broker, b)

    # A drone publishing under another drone's topic is refused by the broker.
    publish_points(pub_a, prefix, b, stream(20, mission_id="M-SPOOF", seq0=10_000))
    pub_a.flush()
    # Poison: a NUL byte in a telemetry message, and a retained one on a status topic.
    pub_a.publish(f"{prefix}/drones/{a}/telemetry", b'{"seq": 1\x00, "lat": 9.2}')
    pub_a.publish(f"{prefix}/drones/{a}/status", b"\x00\xff{online", retain=True)

    # Two streams of 3000 points in messages of 20; one ingester is killed midway.
    points_a = stream(3000, mission_id="M-A")
    points_b = stream(3000, mission_id="M-B")
    publish_points(pub_a, prefix, a, points_a[:1500], per_message=20)
    publish_points(pub_b, prefix, b, points_b[:1500], per_message=20)
    wait_until(lambda: count_points(db)[0] >= 1000, what="the stream under way")
    received_1 = sample(ing1.metrics(), "agritrace_ingest_messages_received_total")
    ing1.kill()
    publish_points(pub_a, prefix, a, points_a[1500:], per_message=20)
    publish_points(pub_b, prefix, b, points_b[1500:], per_message=20)
    pub_a.close()
    pub_b.close()
    ing1.start()  # the same client id: its session's unacknowledged messages come again

    wait_until(lambda: count_points(db)[0] >= 6000, what="both streams", timeout=120)
    wait_until(lambda: count_rejects(db) >= 2, what="the two poison messages")
    assert count_points(db, a) == (3000, 3000)
    assert count_points(db, b) == (3000, 3000)  # none of the spoofed M-SPOOF points
    assert received_1 > 0 and sample(ing2.metrics(), "agritrace_ingest_messages_received_total")
    for proc in (ing1, ing2):
        assert proc.proc.poll() is None and proc.readyz()[0] == 200
    _assert_poison_kept(db)

    # The retained poison is delivered to every new subscriber: a restart survives it.
    ing2.signal(signal.SIGTERM)
    assert ing2.wait(30) == 0
    ing2.start()
    assert ing2.readyz()[0] == 200


def _assert_poison_kept(db) -> None:
    from sqlalchemy import select

    from traceability.models import IngestReject

    with db.connect() as conn:
        rows = conn.execute(select(IngestReject.topic, IngestReject.payload)).all()
    kinds = [topic.rsplit("/", 1)[1] for topic, _ in rows]
    # The retained one comes again with every new subscription: kept each time, never fatal.
    assert kinds.count("telemetry") == 1 and kinds.count("status") >= 1
    assert len(kinds) == kinds.count("telemetry") + kinds.count("status")
    for _, payload in rows:
        assert "\x00" not in payload and "\\u0000" in payload


def test_devices_add_writes_one_section_per_account_and_rotates(tmp_path):
    from tests.ops import agritrace

    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    files = ["--passwd", str(passwd), "--acl", str(acl), "--prefix", "agri"]
    first = agritrace("devices", "add", "BL-DR-001", *files).stdout
    agritrace("devices", "add-ingester", *files)
    second = agritrace("devices", "add", "BL-DR-001", *files).stdout
    pw1 = first.split("(shown only once): ", 1)[1].split()[0]
    pw2 = second.split("(shown only once): ", 1)[1].split()[0]

    assert pw1 != pw2 and len(pw2) == 32
    entries = dict(line.split(":", 1) for line in passwd.read_text().splitlines())
    assert sorted(entries) == ["BL-DR-001", "ingester"]  # rotated in place, not added twice
    assert check_password(entries["BL-DR-001"], pw2) and not check_password(
        entries["BL-DR-001"], pw1
    )
    rules = [line for line in acl.read_text().splitlines() if line and line[0] != "#"]
    assert rules == [
        "user BL-DR-001",
        "topic write agri/drones/BL-DR-001/#",
        "user ingester",
        "topic read agri/drones/#",
        "topic read $share/agritrace/agri/drones/#",
    ]
    refused = agritrace("devices", "add", "BL/DR", *files, check=False)
    assert refused.returncode == 2 and "cannot be a broker user name" in refused.stderr
