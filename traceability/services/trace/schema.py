"""The public trace JSON (``GET /api/v1/trace/{code}``) as pydantic models.

These document the shape :func:`~.build.build_trace` writes (OpenAPI shows them)
and let tests check a real trace against it; the API does not route its answers
through them (see ``api/routes/trace.py``). Every key the trace holds is named
here: ``TracePublic.model_validate(trace).model_dump(mode="json")`` gives the trace
back unchanged. Times are RFC 3339 in UTC; days are local calendar days in
Vietnam (``timezone``).
"""

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from traceability.models import CosignaturePublic, DiaryVerification


class LotSummary(BaseModel):
    """A lot as the buyer sees it."""

    code: str
    product_name: str
    harvested_on: dt.date
    harvested_at: dt.datetime | None = Field(
        default=None, description="when the harvest ended, if a time was given"
    )
    quantity_kg: float
    gtin: str | None
    kind: Literal["harvest", "derived"] = Field(
        description="derived: milled or mixed from other lots"
    )
    trace_url: str
    digital_link: str | None = Field(description="GS1 Digital Link URI, for a lot with a GTIN")


class TracedLot(LotSummary):
    """The traced lot."""

    parent_lots: list[str]
    field_codes: list[str]


class LineageLot(LotSummary):
    """A lot the traced lot was made from, at ``depth`` steps back."""

    depth: int
    used_in: list[str]
    parent_lots: list[str]
    field_codes: list[str]
    phi_compliant: bool | None


class PhiApplication(BaseModel):
    """One application of a pesticide, as the PHI verdict counts it."""

    date: dt.date | None = Field(description="local day of the application")
    at: dt.datetime | None
    source: Literal["diary", "drone"]
    method: Literal["manual", "drone"]
    field_code: str
    quantity: float | None
    unit: str | None
    dose_per_ha: float | None
    entry_id: int | None
    mission_id: str | None


class UnjudgedApplication(PhiApplication):
    """An application that may be a pesticide's but whose PHI cannot be judged."""

    product_code: str | None
    reason: str


class ProductPhi(BaseModel):
    """One pesticide on one lot's fields and whether its PHI was kept."""

    product_code: str
    product_name: str
    active_ingredient: str | None
    phi_days: int | None
    applications: list[PhiApplication]
    last_application_on: dt.date
    days_before_harvest: int
    earliest_safe_harvest: dt.date | None
    phi_compliant: bool | None
    reason: str
    # As the label or certificate prints it; null while the office has not recorded it.
    registration_no: str | None = None


class LotPhi(BaseModel):
    """The PHI verdict of one lot (its own fields', combined with its parents')."""

    lot_code: str
    harvested_on: dt.date
    depth: int
    phi_compliant: bool | None
    own_fields_compliant: bool | None
    parent_lots: list[str]
    products: list[ProductPhi]
    unknown_applications: list[UnjudgedApplication]
    banned_applications: list[UnjudgedApplication] = Field(
        default_factory=list,
        description="products withdrawn from the permitted list: each fails the verdict",
    )
    notes: list[str]


class Phi(BaseModel):
    """The PHI verdicts and the rule they follow."""

    phi_compliant: bool | None
    rule: str
    timezone: str
    lots: list[LotPhi]


class Farmer(BaseModel):
    """A farmer's public facts: name and village, nothing else."""

    name: str
    village: str | None


class AnchorCheckpoint(BaseModel):
    """The signed checkpoint a field's diary is anchored in (verify it with ``public_key``)."""

    id: int | None
    origin: str
    tree_size: int
    root_hash: str = Field(description="hex")
    issued_at: dt.datetime
    key_id: str
    public_key: str = Field(description="the verifier key, C2SP signed-note vkey text")
    note: str = Field(description="the C2SP signed note: tlog-checkpoint text and signature")
    signature: str = Field(description="the signature line's base64 (key ID and Ed25519)")
    witnesses: list[str] = Field(
        default_factory=list,
        description="names on the note's other signature lines (witnesses' cosignatures; "
        "check each with its witness's key)",
    )
    witnesses_verified: list[str] = Field(
        default_factory=list,
        description="those of ``witnesses`` whose cosignature verifies against a configured "
        "witness key (AGRITRACE_WITNESS_KEYS)",
    )
    cosignatures: list[CosignaturePublic] = Field(
        default_factory=list, description="each cosignature line and what checking it found"
    )


class Anchor(BaseModel):
    """A field's newest logged entry in the newest checkpoint, with its RFC 9162 inclusion
    proof (the entry's hash chains every earlier entry of the field)."""

    checkpoint: AnchorCheckpoint
    leaf: str = Field(description="the leaf's bytes: RFC 8785 JSON of field code, seq, hash")
    leaf_index: int
    leaf_hash: str = Field(description="SHA-256(0x00 || leaf), hex")
    audit_path: list[str] = Field(description="RFC 9162 inclusion proof, hex hashes")
    diary_length: int
    diary_head: str | None
    diary_matches: bool = Field(description="today's diary still gives this head at this length")
    problem: str | None


class TraceField(BaseModel):
    """A field of the lot or of a lot it came from."""

    code: str
    name: str | None
    area_ha: float
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, WGS84")
    bbox: list[float] = Field(min_length=4, max_length=4, description="[west, south, east, north]")
    farmer: Farmer
    lots: list[str]
    diary_chain: DiaryVerification
    anchor: Anchor | None = Field(description="null: in no published checkpoint yet")


class SeasonWindow(BaseModel):
    """The days in which a field's work counts for a lot."""

    start: dt.date
    end: dt.date
    default: bool
    basis: str
    # Work dated from here to ``start`` counts too unless an earlier lot shows it.
    reach: dt.date | None = None


class TraceSeason(BaseModel):
    """A field of a lot with the season it was recorded with (if any)."""

    lot_code: str
    field_code: str
    season_id: int | None
    crop: str | None
    variety: str | None
    sown_on: dt.date | None
    window: SeasonWindow


class EventProduct(BaseModel):
    """The product of an application, as the catalogue names it."""

    code: str
    name: str
    kind: Literal["pesticide", "fertilizer", "seed"]
    active_ingredient: str | None
    registration_no: str | None
    phi_days: int | None
    registration_status: Literal["registered", "banned", "unknown"] = "unknown"
    application_method: Literal["spray", "spread", "seed"] | None = None


class _ApplicationEvent(BaseModel):
    at: dt.datetime | None
    date: dt.date | None
    activity: str
    method: Literal["manual", "drone"]
    source: Literal["manual", "drone"]
    field_code: str
    lot_codes: list[str]
    product: EventProduct | None
    quantity: float | None = Field(description="in the product's own unit where it is known")
    unit: str | None
    area_ha: float | None
    dose_per_ha: float | None
    mission_id: str | None


class DiaryEvent(_ApplicationEvent):
    """A diary entry in the corrected view."""

    kind: Literal["diary"]
    entry_id: int
    entry_hash: str


class DroneMissionEvent(_ApplicationEvent):
    """What one drone mission applied on one field."""

    kind: Literal["drone_mission"]
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    status: str | None
    product_code: str | None
    applied_amount: float | None
    applied_unit: str | None
    coverage_pct: float | None
    drone_code: str | None
    evidence_entry_ids: list[int] = Field(description="the drone's lines in the field's diary")


class LotEvent(BaseModel):
    """A lot harvested, or milled or mixed from others (``process``)."""

    kind: Literal["lot"]
    at: dt.datetime
    date: dt.date
    activity: Literal["harvest", "process"]
    method: None
    field_code: None
    lot_codes: list[str]
    quantity: float
    unit: Literal["kg"]
    from_lots: list[str]


Event = Annotated[DiaryEvent | DroneMissionEvent | LotEvent, Field(discriminator="kind")]


class Discrepancy(BaseModel):
    """A live record (a product's PHI, a mission's times or area) that disagrees with what
    the diary's hash chain holds; the verdict uses the chained figure."""

    kind: str
    entry_id: int
    field_code: str
    mission_id: str | None
    product_code: str | None
    what: str
    chained: Any
    recorded: Any
    message: str


class DiaryIntegrity(BaseModel):
    """Every field's diary hash chain, recomputed for this trace."""

    valid: bool
    fields: list[DiaryVerification]
    records_match_chain: bool
    discrepancies: list[Discrepancy]
    anchored: bool = Field(description="every field is in a published checkpoint")
    anchors_hold: bool = Field(description="every anchored diary still gives its signed head")


class EntryState(BaseModel):
    """What a diary entry said (public terms only)."""

    entry_id: int
    activity: str
    product_code: str | None
    occurred_at: dt.datetime | None
    quantity: float | None
    unit: str | None
    area_ha: float | None


class AmendmentAccepted(BaseModel):
    """A reviewer's acceptance of an amendment."""

    at: dt.datetime
    by_role: str
    lot_code: str


class Amendment(BaseModel):
    """A correction or withdrawal recorded after a lot was, that changes its verdict."""

    lot_code: str
    entry_id: int
    corrects_entry_id: int
    kind: Literal["correction", "withdrawal"]
    field_code: str
    recorded_at: dt.datetime
    recorded_by_role: str = Field(description="farmer, cooperative, operator, admin, office…")
    before: EntryState | None
    after: EntryState | None
    status: Literal["pending_review", "accepted", "counted_worse"]
    counted: bool = Field(description="whether the lot's verdict counts it")
    verdict_as_recorded: bool | None
    verdict_with_amendment: bool | None
    accepted: AmendmentAccepted | None


class MissionWarning(BaseModel):
    """A drone mission whose clock disagrees with a field's season, or whose fixes lie far
    from a field its plan names."""

    kind: Literal["before_season", "after_harvest", "no_time", "far_from_field"]
    mission_id: str | None
    drone_code: str | None
    field_code: str
    lot_code: str
    date: dt.date | None
    at: dt.datetime | None
    season_start: dt.date
    season_end: dt.date
    counted_in_phi: bool
    distance_m: float | None = Field(description="far_from_field: nearest fix to the field")
    message: str


class Producer(BaseModel):
    """Who produced the lot: a cooperative, or a farmer outside any (public facts only)."""

    kind: Literal["cooperative", "farmer"]
    code: str | None
    name: str
    address: str | None = Field(description="village and commune, never a person's address")


class Stage(BaseModel):
    """One stage of the lot's history, with its trace code, location code and time."""

    stage: str
    trace_codes: list[str]
    location_code: str | None = Field(description="the field's code; null for milling/mixing")
    at: dt.datetime | None
    date: dt.date | None


class Production(BaseModel):
    """When the lot was produced: harvested, or milled/mixed."""

    kind: Literal["harvest", "process"]
    date: dt.date


class TraceCodes(BaseModel):
    """The lot's trace codes (TCVN 13274: GS1 identifiers where they exist)."""

    lot: str
    gtin: str | None
    digital_link: str | None
    lineage: list[str]


class Certificate(BaseModel):
    """A standard applied (VietGAP) and the certificate that attests it."""

    standard: str
    certificate_no: str | None
    issuer: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    holder: str
    valid_on_harvest: bool | None = Field(
        description="whether the certificate was valid on every harvest day it covers"
    )


class NationalData(BaseModel):
    """The ten minimum fields of Circular 02/2024/TT-BKHCN."""

    basis: str
    product_name: str
    image: str = Field(description="URL of the product photo (served by this app)")
    own_image: bool
    producers: list[Producer]
    stages: list[Stage]
    production: Production
    trace_codes: TraceCodes
    brand: str | None
    shelf_life_days: int | None
    best_before: dt.date | None
    standards: list[Certificate]


class TracePublic(BaseModel):
    """The public trace of a lot."""

    lot: TracedLot
    phi_compliant: bool | None = Field(
        description="every pesticide's PHI kept before harvest (null: cannot be judged)"
    )
    phi: Phi
    fields: list[TraceField]
    seasons: list[TraceSeason]
    events: list[Event] = Field(description="oldest first")
    lineage: list[LineageLot]
    diary_integrity: DiaryIntegrity
    amendments: list[Amendment] = Field(
        description="amendments recorded after a lot that change (or changed) its verdict"
    )
    mission_warnings: list[MissionWarning]
    timezone: str
    national: NationalData
