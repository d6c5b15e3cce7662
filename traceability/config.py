"""Settings from the environment (prefix ``AGRITRACE_``) and an optional ``.env``."""

from functools import lru_cache

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A bootstrap token is an admin's password to every record: short ones can be guessed.
ADMIN_TOKEN_MIN_LENGTH = 32


class Settings(BaseSettings):
    """Everything agritrace reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="AGRITRACE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./agritrace.db"
    # A streaming replica of ``database_url`` (PostgreSQL) that the buyer's scans, the
    # resolver and the reports read from; writes always go to ``database_url``.
    read_database_url: str | None = None
    mqtt_url: str | None = None
    topic_prefix: str = "agri"
    public_base_url: str = "http://localhost:8000"
    admin_token: str | None = None
    # A bearer token that reads the API's /metrics and nothing else (a Prometheus scraper);
    # office and admin tokens read it too.
    metrics_token: str | None = None
    # The Ed25519 key that signs the transparency log's checkpoints: a file kept outside
    # the database (and ideally off the database's machine).
    checkpoint_key_file: str | None = None
    log_origin: str = "agritrace.bac-lieu/diaries"
    # The cosigner keys (C2SP vkey text, type 0x04, as ``agritrace witness serve`` prints)
    # of the witnesses the log is configured with, separated by spaces or new lines: a
    # cosignature counts as verified on the trace only against one of these.
    witness_keys: str = ""
    # Official outlines of the province and its communes (GeoJSON, features with a
    # ``code``); without it the trace page's locator draws the packaged schematic outline.
    boundaries_file: str | None = None

    # Ingest tuning: how many points are committed together at most, and how long an
    # idle writer lingers after a first message for more to come with it (messages that
    # queued while it was storing the last batch go at once).
    ingest_batch_size: int = 2000
    ingest_flush_ms: int = 50
    # Writer threads in one ingester, each storing the drones that fall to it on its own
    # connection: while one waits for the database, the other validates its next batch.
    ingest_writers: int = Field(default=2, ge=1, le=16)
    ingest_share_group: str = "agritrace"
    ingest_client_id: str | None = None
    # With an AMQP URL (RabbitMQ, whose MQTT plugin takes the drones' MQTT), the ingester
    # consumes this durable quorum queue instead of subscribing over MQTT.
    amqp_url: str | None = None
    ingest_queue: str = "agritrace.ingest"
    # Deliveries after the first before RabbitMQ dead-letters a message that no ingester
    # acknowledges (one that crashes them all): see drone_ingest.amqp.
    ingest_delivery_limit: int = Field(default=5, ge=0, le=1000)
    max_payload_bytes: int = 1_000_000
    # The ingester's own HTTP port for /healthz, /readyz and /metrics (0: none), on this
    # machine only unless told otherwise (a container sets 0.0.0.0 for its network).
    ingest_http_port: int = 0
    ingest_http_host: str = "127.0.0.1"
    # "text" for people, "json" (one object per line) for a log collector.
    log_format: str = "text"

    # Measurement thresholds behind the mission flags.
    overspray_flag_pct: float = 5.0
    # Below this a swath edge grazing a zone's buffer is position noise, not a violation.
    nospray_flag_min_m2: float = 2.0
    reported_mismatch_pct: float = 15.0
    # A start or end event further than this from the first or last fix is flagged: the
    # fixes' own times date the work, and an event that disagrees is the drone's claim.
    event_time_tolerance_s: float = 900.0
    max_gap_s: float = 30.0
    # An open mission with no new point for this long is completed without its end event
    # (a phone that died, an app that never sent it), so its work reaches the diaries.
    mission_idle_close_s: float = 3600.0

    # Low-emission rice: the office's country-specific methane factors over the IPCC 2019
    # defaults, a JSON object such as {"efc": 1.3, "sfw": {"single_drainage": 0.6}}
    # (traceability/services/emissions/methane.py, Factors.with_overrides); the province's
    # reference nitrogen rate (kg N/ha) and pesticide sprays per season that the programme's
    # "about 30 % less" is measured against, each with where it comes from (a survey, a
    # decision of the province), which the report prints beside every verdict. Unset: those
    # indicators are unknown, saying so. No default is offered: no published reference
    # rate for Cà Mau (or the Mekong programme's technical guidance) could be cited.
    emission_factors: dict | None = None
    n_reference_kg_per_ha: float | None = Field(default=None, gt=0, lt=1000)
    n_reference_source: str | None = Field(default=None, max_length=300)
    sprays_reference: float | None = Field(default=None, gt=0, lt=100)
    sprays_reference_source: str | None = Field(default=None, max_length=300)

    # The largest ?limit= a list accepts.
    page_size_max: int = 500

    # How far ahead of now a record's time may be (a drone's fix, a diary entry, a
    # harvest): clock drift and wrong time zones, not a clock set a year ahead, which
    # could move a spray out of the PHI window. The demo's simulated clock raises it.
    max_clock_ahead_h: float = 24.0

    # HTTP requests: the largest body (the upload addresses, flight logs and imports of
    # fields or zones, take a larger one) and how long a body may take to arrive.
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 64 * 1_048_576
    body_timeout_s: float = 30.0

    @field_validator("admin_token", "metrics_token")
    @classmethod
    def _long_token(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None  # set but empty (as docker-compose passes it) is unset
        if len(value) < ADMIN_TOKEN_MIN_LENGTH:
            name = f"AGRITRACE_{info.field_name.upper()}"
            raise ValueError(
                f"{name} must be at least {ADMIN_TOKEN_MIN_LENGTH} characters "
                f"(it has {len(value)}); generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
