"""docker-compose.yml, the Dockerfile and deploy/: what the province's IT runs.

The compose file is checked by docker-compose itself (``config -q``, which needs no
Docker engine; with and without the ``rabbitmq`` profile), then read as YAML — and as
docker-compose resolves it — for what the deployment must hold: persistence, the
broker's accounts, a database volume, the API behind a body limit, two ingesters on one
shared subscription, health checks that ask ``/readyz``, and RabbitMQ as the
alternative broker behind a profile, Mosquitto staying the default.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from drone_ingest.accounts import Account, read_accounts
from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml, parsed."""
    return yaml.safe_load(COMPOSE.read_text())


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    return None


def _compose_config(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """``docker-compose -f docker-compose.yml [args] config``'s run (no engine needed)."""
    command = _compose_command()
    if command is None:
        unavailable("docker-compose", "neither docker-compose nor the docker compose plugin")
    return subprocess.run(
        [*command, "-f", str(COMPOSE), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


@pytest.mark.parametrize("profile", [[], ["--profile", "rabbitmq"]], ids=["default", "rabbitmq"])
def test_compose_file_is_valid_for_docker_compose(tmp_path, profile):
    proc = _compose_config(tmp_path, *profile, "config", "-q")
    assert proc.returncode == 0, proc.stderr


def _default(services: dict) -> dict:
    """The services ``docker compose up`` starts: those of no profile."""
    return {name: s for name, s in services.items() if not s.get("profiles")}


def _healthcheck_url(service: dict) -> str:
    test = " ".join(service["healthcheck"]["test"])
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", test)
    assert match, test
    return match.group(0)


def test_ingesters_share_one_subscription_with_their_own_sessions(compose):
    services = _default(compose["services"])
    ingesters = {name: s for name, s in services.items() if "ingest" in s.get("command", [])}
    assert len(ingesters) >= 2
    ids = {s["environment"]["AGRITRACE_INGEST_CLIENT_ID"] for s in ingesters.values()}
    assert len(ids) == len(ingesters)  # each its own persistent session
    for service in ingesters.values():
        # One share group for all (the default, not overridden), credentials of "ingester".
        assert "AGRITRACE_INGEST_SHARE_GROUP" not in service["environment"]
        assert service["environment"]["AGRITRACE_MQTT_URL"].startswith("mqtt://ingester:")
        port = service["command"][service["command"].index("--http-port") + 1]
        assert _healthcheck_url(service) == f"http://127.0.0.1:{port}/readyz"
        assert service["stop_grace_period"]  # time to commit what is in hand on SIGTERM


def test_api_is_behind_a_body_limit_and_checks_readiness(compose):
    services = compose["services"]
    assert _healthcheck_url(services["api"]) == "http://127.0.0.1:8000/readyz"
    assert "ports" not in services["api"]  # reached only through the proxy
    proxy = services["proxy"]
    assert proxy["ports"] == ["8000:8080"]
    conf_path = next(v.split(":")[0] for v in proxy["volumes"] if "nginx" in v)
    conf = (ROOT / conf_path).read_text()
    assert re.search(r"client_max_body_size\s+2m;", conf)
    assert re.search(r"client_body_timeout\s+\d+s;", conf)
    assert re.search(r"client_header_timeout\s+\d+s;", conf)
    assert "server api:8000;" in conf and "listen 8080;" in conf


def test_database_and_broker_keep_their_data(compose):
    services = compose["services"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "mosquitto-data:/mosquitto/data" in services["mosquitto"]["volumes"]
    assert {"pgdata", "mosquitto-data"} <= set(compose["volumes"])
    for name in ("db", "mosquitto"):
        assert services[name]["healthcheck"]["test"]


def test_broker_config_requires_accounts_and_persists(compose):
    volumes = compose["services"]["mosquitto"]["volumes"]
    mounts = dict(v.split(":")[:2] for v in volumes if v.startswith("./"))
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    assert mounts["./deploy/mosquitto/mosquitto.conf"] == "/mosquitto/config/mosquitto.conf"
    lines = [line.split(None, 1) for line in conf.splitlines() if line and line[0] != "#"]
    settings = dict(lines)
    assert settings["allow_anonymous"] == "false"
    assert settings["persistence"] == "true"
    assert settings["password_file"] == mounts["./deploy/mosquitto/passwd"]
    assert settings["acl_file"] == mounts["./deploy/mosquitto/acl"]
    # Acknowledged after each commit, an ingester takes at most this many messages per
    # commit: more than a second of the whole country's fleet (6,000 one-point messages).
    assert int(settings["max_inflight_messages"]) > 6000
    # The shipped ACL is one `agritrace devices` wrote: the ingesters' account only.
    assert read_accounts(ROOT / "deploy/mosquitto/acl") == [Account("ingester", "ingester")]


def test_dockerfile_installs_the_package_and_the_backup_tools():
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in text
    assert "postgresql-client" in text  # pg_dump / pg_restore for agritrace backup
    assert re.search(r"^USER agritrace$", text, re.M)
    for package in ("traceability", "drone_ingest", "agritrace"):
        assert f"COPY {package} {package}" in text


def test_mosquitto_stays_the_default_and_rabbitmq_is_a_profile(compose):
    services = compose["services"]
    default = _default(services)
    assert "mosquitto" in default and "rabbitmq" not in default
    for service in default.values():
        assert "AGRITRACE_AMQP_URL" not in service.get("environment", {})
    assert services["rabbitmq"]["profiles"] == ["rabbitmq"]
    # Only the ingesters wait for a broker: with RabbitMQ the API starts without Mosquitto.
    for name in ("api", "migrate", "proxy"):
        assert "mosquitto" not in services[name].get("depends_on", {})


def test_rabbitmq_takes_the_drones_mqtt_and_keeps_its_data(compose):
    rabbit = compose["services"]["rabbitmq"]
    mounts = dict(v.split(":")[:2] for v in rabbit["volumes"])
    assert mounts["rabbitmq-data"] == "/var/lib/rabbitmq" and "rabbitmq-data" in compose["volumes"]
    assert rabbit["hostname"]  # the node's name, and so its data, survive a re-creation
    plugins = (ROOT / "deploy/rabbitmq/enabled_plugins").read_text()
    assert mounts["./deploy/rabbitmq/enabled_plugins"] == "/etc/rabbitmq/enabled_plugins"
    assert re.fullmatch(r"\[rabbitmq_mqtt\]\.\s*", plugins)
    assert mounts["./deploy/rabbitmq/rabbitmq.conf"] == "/etc/rabbitmq/rabbitmq.conf"
    conf = dict(
        (k.strip(), v.strip())
        for k, v in (
            line.split("=", 1)
            for line in (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        )
    )
    assert conf["mqtt.allow_anonymous"] == "false"
    assert conf["mqtt.exchange"] == "amq.topic"  # where the ingest queue is bound
    # The host's 1884 reaches the plugin's listener; Mosquitto keeps the host's 1883.
    [mapping] = rabbit["ports"]
    assert mapping == f"1884:{conf['mqtt.listeners.tcp.default']}"
    assert compose["services"]["mosquitto"]["ports"] == ["1883:1883"]
    assert rabbit["healthcheck"]["test"][:2] == ["CMD", "rabbitmq-diagnostics"]


def test_rabbitmq_ingesters_share_the_quorum_queue_as_compose_resolves_them(tmp_path):
    proc = _compose_config(tmp_path, "--profile", "rabbitmq", "config")
    assert proc.returncode == 0, proc.stderr
    services = yaml.safe_load(proc.stdout)["services"]
    amqp = {n: s for n, s in services.items() if "AGRITRACE_AMQP_URL" in s.get("environment", {})}
    assert sorted(amqp) == ["ingest-amqp-1", "ingest-amqp-2"]
    ids = set()
    for service in amqp.values():
        env = service["environment"]
        assert service["profiles"] == ["rabbitmq"]
        assert env["AGRITRACE_AMQP_URL"].startswith("amqp://ingester:")
        assert "@rabbitmq:5672/" in env["AGRITRACE_AMQP_URL"]
        # One queue for both (the default, not overridden): competing consumers.
        assert "AGRITRACE_INGEST_QUEUE" not in env
        ids.add(env["AGRITRACE_INGEST_CLIENT_ID"])
        assert service["command"][:2] == ["agritrace", "ingest"]
        assert set(service["depends_on"]) == {"migrate", "rabbitmq"}
        assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        port = service["command"][service["command"].index("--http-port") + 1]
        assert _healthcheck_url(service) == f"http://127.0.0.1:{port}/readyz"
        assert service["stop_grace_period"]
    assert len(ids) == 2
    # The broker's default account is the ingesters', with the same password.
    rabbit_env = services["rabbitmq"]["environment"]
    assert rabbit_env["RABBITMQ_DEFAULT_USER"] == "ingester"
    password = rabbit_env["RABBITMQ_DEFAULT_PASS"]
    assert all(
        f"ingester:{password}@" in s["environment"]["AGRITRACE_AMQP_URL"] for s in amqp.values()
    )


def test_traces_are_built_ahead_by_a_service_of_their_own(compose):
    svc = compose["services"]["trace-ahead"]
    assert svc["command"][:3] == ["agritrace", "trace-snapshots", "--follow"]
    assert "profiles" not in svc  # with either broker
    # The same image and database as the API, after the migrations.
    assert svc["image"] == compose["services"]["api"]["image"]
    assert (
        svc["environment"]["AGRITRACE_DATABASE_URL"]
        == (compose["services"]["api"]["environment"]["AGRITRACE_DATABASE_URL"])
    )
    assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
