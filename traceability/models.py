"""Every table and every API schema of agritrace.

Each entity has its family: ``XBase`` (shared fields), ``XCreate`` (what a client
sends), ``X`` (the table), ``XPublic`` (what the API returns) and ``XsPublic``
(a page of them). The shapes follow ``shared/INTERFACE.md``.

Following farmOS, fields are land assets and drones are equipment; diary entries
and missions are logs that point at assets, with a time and a status.
"""

import math
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, field_validator
from pydantic import Field as PField
from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zones; without this, the same column would come back
    naive from SQLite and aware from PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts_column(**kw) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a UTC offset (e.g. 2026-05-01T08:00:00+07:00)")
    return value.astimezone(UTC)


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

# Codes appear in URLs and MQTT topics: no slashes, wildcards or spaces.
Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
    ),
]


def _no_control(value: str) -> str:
    # PostgreSQL refuses NUL in text while SQLite stores it: refuse control characters up
    # front so both backends give the same clear answer (tabs and line breaks are fine).
    if any((ord(c) < 32 and c not in "\t\n\r") or c == "\x7f" for c in value):
        raise ValueError("must not contain control characters (such as NUL)")
    return value


NoControl = AfterValidator(_no_control)
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoControl
]
# A reference to a row by its id: bounded so that a huge number is a 422, not a database overflow.
DbId = Annotated[int, PField(ge=1, le=2**31 - 1)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), NoControl]


# ---------------------------------------------------------------- enumerations


class Role(StrEnum):
    """What a user may do."""

    admin = "admin"
    operator = "operator"
    farmer = "farmer"


class Activity(StrEnum):
    """The kinds of work a diary records (VietGAP production diary)."""

    land_prep = "land_prep"
    seed = "seed"
    fertilize = "fertilize"
    spray = "spray"
    irrigate = "irrigate"
    observe = "observe"
    harvest = "harvest"
    other = "other"
    purchase = "purchase"
    drain = "drain"
    straw = "straw"
    sale = "sale"


class RegistrationStatus(StrEnum):
    """Where a product stands on Vietnam's permitted list (Circular 75/2025/TT-BNNMT)."""

    registered = "registered"
    banned = "banned"
    unknown = "unknown"


class InputKind(StrEnum):
    """Kinds of input product."""

    pesticide = "pesticide"
    fertilizer = "fertilizer"
    seed = "seed"


class Unit(StrEnum):
    """Units of input products and applied amounts."""

    L = "L"
    kg = "kg"


class MissionType(StrEnum):
    """What a drone mission applies."""

    spray = "spray"
    fertilize = "fertilize"
    seed = "seed"


class MissionStatus(StrEnum):
    """A mission is open until its end event arrives."""

    open = "open"
    complete = "complete"


class Page(BaseModel):
    """Common shape of every paged list: ``{"data": [...], "count": total}``."""

    count: int


# ---------------------------------------------------------------- users


class User(SQLModel, table=True):
    """Someone who calls the API with a bearer token."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: Role = Field(max_length=16)
    # Tokens are 256-bit random secrets, so a plain SHA-256 is enough to make a
    # leaked table useless; a slow password hash would only slow every request.
    token_hash: str = Field(max_length=64, unique=True, index=True)
    farmer_id: int | None = Field(default=None, foreign_key="farmers.id", index=True)
    active: bool = True
    created_at: datetime = _ts_column()


class UserCreate(BaseModel):
    """A new API user; a farmer user is tied to one farmer."""

    name: Name
    role: Role
    farmer_id: DbId | None = None


class UserPublic(BaseModel):
    """A user as the API shows it (never the token)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    farmer_id: int | None
    active: bool
    created_at: datetime


class UserWithToken(UserPublic):
    """Returned once, at creation: the only time the token is shown."""

    token: str


# ---------------------------------------------------------------- farmers


class FarmerBase(SQLModel):
    code: str | None = Field(default=None, max_length=64, unique=True)
    name: str = Field(max_length=200)
    village: str | None = Field(default=None, max_length=200)


class Farmer(FarmerBase, table=True):
    """A person or household that farms fields."""

    __tablename__ = "farmers"

    id: int | None = Field(default=None, primary_key=True)
    phone: str | None = Field(default=None, max_length=32)
    national_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = _ts_column()


class FarmerCreate(BaseModel):
    """A new farmer."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    code: Code | None = None
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 .\-]{6,20}$")]
        | None
    ) = None
    village: ShortText | None = None
    national_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{9,12}$")] | None = None


class FarmerPublic(BaseModel):
    """A farmer as the authenticated API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str | None
    name: str
    village: str | None
    phone: str | None
    created_at: datetime


class FarmersPublic(Page):
    data: list[FarmerPublic]


# ---------------------------------------------------------------- fields


class FarmField(SQLModel, table=True):
    """A field: a land asset with a WGS84 polygon and its true area."""

    __tablename__ = "fields"
    __table_args__ = (Index("ix_fields_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    farmer_id: int = Field(foreign_key="farmers.id", index=True)
    name: str | None = Field(default=None, max_length=200)
    geometry: dict = Field(sa_column=Column(JSON, nullable=False))
    properties: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    area_ha: float
    utm_epsg: int
    # The bounding box lets a mission pick its candidate fields with an index
    # instead of loading every polygon of the province.
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    # The head of the field's diary chain, moved on every append in the same
    # transaction: without it, deleting the newest entries would leave a chain
    # that still verifies.
    diary_length: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    diary_head: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts_column()


class FieldProperties(BaseModel):
    """The ``properties`` of a field Feature sent by a client."""

    model_config = ConfigDict(extra="allow")

    code: Code
    farmer_id: DbId
    name: ShortText | None = None


class FieldCreate(BaseModel):
    """A field as a GeoJSON Feature (Polygon or MultiPolygon, WGS84)."""

    type: Literal["Feature"]
    geometry: dict[str, Any]
    properties: FieldProperties
    id: Any = None


class FeatureCollectionCreate(BaseModel):
    """Many fields (or zones) at once, as a GeoJSON FeatureCollection.

    Features stay plain objects here: each is checked on its own, so that an error
    can name the feature it is in.
    """

    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]


FieldCollectionCreate = FeatureCollectionCreate


class FieldPublicProperties(BaseModel):
    id: int
    code: str
    farmer_id: int
    name: str | None = None
    area_ha: float
    utm_epsg: int

    model_config = ConfigDict(extra="allow")


class FieldPublic(BaseModel):
    """A field as a GeoJSON Feature with its computed area."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: FieldPublicProperties
    bbox: list[float]


class FieldsPublic(BaseModel):
    """A page of fields: a FeatureCollection that also counts all matches."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[FieldPublic]
    count: int


class FieldImportResult(BaseModel):
    """What an import of a FeatureCollection (of fields or of zones) did."""

    created: int
    codes: list[str]


# ---------------------------------------------------------------- seasons


class Season(SQLModel, table=True):
    """A crop cycle on one field."""

    __tablename__ = "seasons"

    id: int | None = Field(default=None, primary_key=True)
    field_id: int = Field(foreign_key="fields.id", index=True)
    crop: str = Field(max_length=100)
    variety: str | None = Field(default=None, max_length=100)
    sown_on: date
    ended_on: date | None = None
    planned_harvest_on: date | None = None
    created_at: datetime = _ts_column()


class SeasonCreate(BaseModel):
    """A new crop season on a field."""

    model_config = ConfigDict(extra="forbid")

    field_code: Code
    crop: Name
    variety: ShortText | None = None
    sown_on: date
    ended_on: date | None = None
    planned_harvest_on: date | None = None


class SeasonPublic(BaseModel):
    """A season as the API shows it."""

    id: int
    field_code: str
    crop: str
    variety: str | None
    sown_on: date
    ended_on: date | None
    planned_harvest_on: date | None = None


class SeasonsPublic(Page):
    data: list[SeasonPublic]


# ---------------------------------------------------------------- input products


class InputProductBase(SQLModel):
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    kind: InputKind = Field(max_length=16)
    unit: Unit = Field(max_length=4)
    phi_days: int | None = None
    max_dose_per_ha: float | None = None
    active_ingredient: str | None = Field(default=None, max_length=200)
    registration_no: str | None = Field(default=None, max_length=64)
    target: str | None = Field(default=None, max_length=200)
    registration_status: RegistrationStatus = Field(
        default="unknown", max_length=16, sa_column_kwargs={"server_default": "unknown"}
    )  # noqa: E501
    registered_crops: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class InputProduct(InputProductBase, table=True):
    """An input product: pesticide, fertilizer or seed."""

    __tablename__ = "inputs"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _ts_column()


class InputProductCreate(BaseModel):
    """A new input product."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    kind: InputKind
    unit: Unit
    phi_days: Annotated[int, PField(ge=0, le=365)] | None = None
    max_dose_per_ha: Annotated[float, PField(gt=0, lt=100_000)] | None = None
    active_ingredient: ShortText | None = None
    registration_no: Annotated[str, StringConstraints(max_length=64), NoControl] | None = None
    target: ShortText | None = None
    registration_status: RegistrationStatus = RegistrationStatus.unknown
    registered_crops: list[ShortText] | None = PField(default=None, max_length=50)


class InputProductPublic(InputProductCreate):
    """An input product as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int


class InputProductsPublic(Page):
    data: list[InputProductPublic]


# ---------------------------------------------------------------- drones


class Drone(SQLModel, table=True):
    """An agricultural drone: equipment; its code is the ``drone_id`` in topics."""

    __tablename__ = "drones"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    model: str | None = Field(default=None, max_length=100)
    swath_m: float | None = None
    tank_capacity: float | None = None
    operator: str | None = Field(default=None, max_length=200)
    online: bool | None = None
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts_column()


class DroneCreate(BaseModel):
    """A new drone."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    model: ShortText | None = None
    swath_m: Annotated[float, PField(gt=0, le=50)] | None = None
    tank_capacity: Annotated[float, PField(gt=0, le=500)] | None = None
    operator: ShortText | None = None


class DronePublic(DroneCreate):
    """A drone as the API shows it, with its last reported status."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    online: bool | None = None
    status_at: datetime | None = None


class DronesPublic(Page):
    data: list[DronePublic]


# ---------------------------------------------------------------- diary


class DiaryEntry(SQLModel, table=True):
    """One line of a field's production diary: append-only and hash-chained."""

    __tablename__ = "diary_entries"
    __table_args__ = (
        UniqueConstraint("field_id", "chain_seq", name="uq_diary_chain"),
        UniqueConstraint("author_id", "client_id", name="uq_diary_author_client"),
        Index("ix_diary_field_time", "field_id", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    field_id: int = Field(foreign_key="fields.id")
    season_id: int | None = Field(default=None, foreign_key="seasons.id", index=True)
    chain_seq: int
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = _ts_column()
    activity: Activity = Field(max_length=16)
    input_id: int | None = Field(default=None, foreign_key="inputs.id")
    quantity: float | None = None
    unit: Unit | None = Field(default=None, max_length=4)
    area_ha: float | None = None
    note: str | None = Field(default=None, max_length=2000)
    corrects_id: int | None = Field(default=None, foreign_key="diary_entries.id", index=True)
    retracts: bool = False
    source: str = Field(default="manual", max_length=16)
    mission_id: str | None = Field(default=None, max_length=64, index=True)
    client_id: str | None = Field(default=None, max_length=64)
    author_id: int | None = Field(default=None, foreign_key="users.id")
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class DiaryEntryCreate(BaseModel):
    """A new diary entry, or a correction of an earlier one (``corrects``)."""

    model_config = ConfigDict(extra="forbid")

    field_code: Code
    occurred_at: AwareDatetime
    activity: Activity
    input_code: Code | None = None
    quantity: Annotated[float, PField(ge=0, lt=1_000_000, allow_inf_nan=False)] | None = None
    unit: Unit | None = None
    area_ha: Annotated[float, PField(gt=0, lt=100_000, allow_inf_nan=False)] | None = None
    note: Annotated[str, StringConstraints(max_length=2000), NoControl] | None = None
    corrects: DbId | None = None
    retracts: bool = False
    # Set by an offline phone app so that re-sending an entry never records it twice.
    client_id: Annotated[str, StringConstraints(min_length=8, max_length=64), NoControl] | None = (
        None
    )


class DiaryEntryPublic(BaseModel):
    """A diary entry as the API shows it."""

    id: int
    field_code: str
    season_id: int | None
    occurred_at: datetime
    recorded_at: datetime
    activity: Activity
    input_code: str | None
    quantity: float | None
    unit: Unit | None
    area_ha: float | None
    dose_per_ha: float | None
    note: str | None
    corrects: int | None
    retracts: bool
    corrected_by: int | None = None
    source: str
    mission_id: str | None
    client_id: str | None
    hash: str
    prev_hash: str


class DiaryEntriesPublic(Page):
    data: list[DiaryEntryPublic]


class ChainBreak(BaseModel):
    """One place where a diary's hash chain does not hold."""

    entry_id: int | None
    chain_seq: int
    problem: str


class DiaryVerification(BaseModel):
    """Result of re-computing a field's diary hash chain."""

    field_code: str
    entries: int
    valid: bool
    head_hash: str | None
    breaks: list[ChainBreak]


# ---------------------------------------------------------------- lots


class LotField(SQLModel, table=True):
    """A field a harvest lot came from."""

    __tablename__ = "lot_fields"

    lot_id: int = Field(foreign_key="lots.id", primary_key=True)
    field_id: int = Field(foreign_key="fields.id", primary_key=True, index=True)
    season_id: int | None = Field(default=None, foreign_key="seasons.id", index=True)


class LotParent(SQLModel, table=True):
    """A lot that was milled or mixed into another."""

    __tablename__ = "lot_parents"

    lot_id: int = Field(foreign_key="lots.id", primary_key=True)
    parent_id: int = Field(foreign_key="lots.id", primary_key=True, index=True)


class Lot(SQLModel, table=True):
    """A harvest lot (or a lot milled or mixed from others)."""

    __tablename__ = "lots"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    product_name: str = Field(max_length=200)
    harvested_on: date
    quantity_kg: float
    gtin: str | None = Field(default=None, max_length=14, index=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _ts_column()


def gs1_check_digit(body: str) -> int:
    """The GS1 check digit of a GTIN body (all digits but the last).

    >>> gs1_check_digit("893456789012")
    0
    """
    # Weights 3, 1, 3, ... from the right-most digit of the body, whatever its length.
    return (10 - sum(int(d) * (1 if i % 2 else 3) for i, d in enumerate(reversed(body))) % 10) % 10


def gtin14(value: str) -> str:
    """Validate a GTIN-8/12/13/14 check digit and return it as 14 digits.

    >>> gtin14("8934567890120")
    '08934567890120'
    """
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (8, 12, 13, 14):
        raise ValueError("GTIN must be 8, 12, 13 or 14 digits")
    expected = gs1_check_digit(digits[:-1])
    if expected != int(digits[-1]):
        raise ValueError(f"GTIN check digit is wrong (expected {expected})")
    return digits.zfill(14)


class LotCreate(BaseModel):
    """A new lot from fields, from parent lots, or both."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    field_codes: list[Code] = PField(default_factory=list, max_length=500)
    harvested_on: date
    quantity_kg: Annotated[float, PField(gt=0, lt=1e9, allow_inf_nan=False)]
    product_name: Name
    gtin: Annotated[str, AfterValidator(gtin14)] | None = None
    parent_lots: list[Code] = PField(default_factory=list, max_length=500)


class LotPublic(BaseModel):
    """A lot as the API shows it."""

    id: int
    code: str
    product_name: str
    harvested_on: date
    quantity_kg: float
    gtin: str | None
    field_codes: list[str]
    parent_lots: list[str]
    season_ids: list[int]
    created_at: datetime


class LotsPublic(Page):
    data: list[LotPublic]


# ---------------------------------------------------------------- no-spray zones


class NoSprayZone(SQLModel, table=True):
    """A place no drone may spray: canal, shrimp pond, house — with a buffer."""

    __tablename__ = "nospray_zones"
    __table_args__ = (Index("ix_zones_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(max_length=32)
    name: str | None = Field(default=None, max_length=200)
    buffer_m: float = 0.0
    geometry: dict = Field(sa_column=Column(JSON, nullable=False))
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    created_at: datetime = _ts_column()


# ---------------------------------------------------------------- telemetry and missions


class TelemetryPoint(SQLModel, table=True):
    """One fix of a drone; ``(drone_code, seq)`` identifies it, so repeats are no-ops."""

    __tablename__ = "telemetry"
    __table_args__ = (
        UniqueConstraint("drone_code", "seq", name="uq_telemetry_drone_seq"),
        Index("ix_telemetry_mission_ts", "mission_id", "ts"),
    )

    # SQLite only auto-numbers a column declared exactly INTEGER PRIMARY KEY.
    id: int | None = Field(
        default=None, sa_type=BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    drone_code: str = Field(max_length=64)
    seq: int = Field(sa_type=BigInteger)
    mission_id: str = Field(max_length=64)
    ts: datetime = Field(sa_type=UTCDateTime)
    lat: float
    lon: float
    alt_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    spraying: bool
    flow_lpm: float | None = None
    flow_kgpm: float | None = None
    swath_m: float | None = None
    tank_remaining: float | None = None
    battery_pct: float | None = None


class Mission(SQLModel, table=True):
    """A drone's mission: a log of work with its measured result."""

    __tablename__ = "missions"

    id: int | None = Field(default=None, primary_key=True)
    mission_id: str = Field(max_length=64, unique=True, index=True)
    drone_code: str = Field(max_length=64, index=True)
    drone_id: int | None = Field(default=None, foreign_key="drones.id")
    type: MissionType | None = Field(default=None, max_length=16)
    product_code: str | None = Field(default=None, max_length=64)
    product_id: int | None = Field(default=None, foreign_key="inputs.id")
    swath_m: float | None = None
    operator_id: str | None = Field(default=None, max_length=64)
    planned_field_codes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: MissionStatus = Field(default=MissionStatus.open, max_length=16)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reported_area_ha: float | None = None
    reported_amount: float | None = None
    point_count: int = 0
    applied_amount: float | None = None
    amount_unit: Unit | None = Field(default=None, max_length=4)
    # Product units per L (or kg) of what leaves the drone: a spray is a tank mix,
    # so litres through the nozzles are not litres of product.
    product_per_unit: float | None = None
    product_amount: float | None = None
    product_unit: Unit | None = Field(default=None, max_length=4)
    sprayed_area_ha: float | None = None
    treated_area_ha: float | None = None
    overspray_area_ha: float | None = None
    overlap_area_ha: float | None = None
    nospray_area_ha: float | None = None
    flags: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    zones: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    footprint: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    measured_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When its newest point was received, and what completed it: its end event, or
    # ("idle") the ingester, when no point and no end event came for a long while.
    last_point_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    end_reason: str | None = Field(default=None, max_length=16)
    # Set whenever points or events change what the mission would measure to.
    dirty: bool = Field(default=True, index=True)
    created_at: datetime = _ts_column()


class MissionField(SQLModel, table=True):
    """What one mission did to one field."""

    __tablename__ = "mission_fields"

    mission_pk: int = Field(foreign_key="missions.id", primary_key=True)
    field_id: int = Field(foreign_key="fields.id", primary_key=True, index=True)
    treated_area_ha: float
    coverage_pct: float
    applied_amount: float
    dose_per_ha: float | None = None
    product_amount: float | None = None
    product_dose_per_ha: float | None = None


class MissionFieldPublic(BaseModel):
    """Per-field result of a mission.

    ``applied_amount`` and ``dose_per_ha`` are what left the drone (``amount_unit``:
    litres of tank mix, or kg of granules or seed); ``product_*`` are the same in
    the product's own unit, when the tank mix is known.
    """

    field_code: str
    treated_area_ha: float
    coverage_pct: float
    applied_amount: float
    dose_per_ha: float | None
    product_amount: float | None = None
    product_dose_per_ha: float | None = None


class MissionPublic(BaseModel):
    """A mission and its measured result (INTERFACE.md)."""

    mission_id: str
    drone_id: str
    type: MissionType | None
    product_code: str | None
    status: MissionStatus
    started_at: datetime | None
    ended_at: datetime | None
    point_count: int
    applied_amount: float | None
    amount_unit: Unit | None
    product_amount: float | None = None
    product_unit: Unit | None = None
    product_per_unit: float | None = None
    treated_area_ha: float | None
    overspray_area_ha: float | None
    overlap_area_ha: float | None
    nospray_area_ha: float | None
    sprayed_area_ha: float | None
    reported_area_ha: float | None
    reported_amount: float | None
    operator_id: str | None
    planned_field_codes: list[str]
    fields: list[MissionFieldPublic]
    zones: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    measured_at: datetime | None


class MissionsPublic(Page):
    data: list[MissionPublic]


class IngestReject(SQLModel, table=True):
    """A message that could not be accepted, kept with the reason."""

    __tablename__ = "ingest_rejects"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=1024)
    payload: str
    reason: str = Field(max_length=2000)
    received_at: datetime = _ts_column(index=True)


class IngestRejectPublic(BaseModel):
    """A reject as listed by the API."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    topic: str
    payload: str
    reason: str
    received_at: datetime


class IngestRejectsPublic(BaseModel):
    """INTERFACE.md: ``{"total": N, "items": [...]}``."""

    total: int
    items: list[IngestRejectPublic]


# ---------------------------------------------------------------- wire schemas (MQTT contract)


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number (NaN and Infinity are not allowed)")
    return value


Finite = Annotated[float, AfterValidator(_finite)]


class TelemetryIn(BaseModel):
    """One telemetry fix as a drone publishes it."""

    model_config = ConfigDict(extra="ignore", strict=False)

    mission_id: Code
    seq: Annotated[int, PField(ge=0, lt=2**62)]
    ts: AwareDatetime
    lat: Annotated[Finite, PField(ge=-90, le=90)]
    lon: Annotated[Finite, PField(ge=-180, le=180)]
    alt_m: Finite | None = None
    speed_mps: Annotated[Finite, PField(ge=0, le=200)] | None = None
    heading_deg: Finite | None = None
    spraying: bool
    flow_lpm: Annotated[Finite, PField(ge=0, le=1000)] | None = None
    flow_kgpm: Annotated[Finite, PField(ge=0, le=1000)] | None = None
    swath_m: Annotated[Finite, PField(gt=0, le=100)] | None = None
    tank_remaining: Finite | None = None
    battery_pct: Finite | None = None

    @field_validator("spraying", mode="before")
    @classmethod
    def _strict_bool(cls, v: Any) -> Any:
        # "yes" or 2 are not a clear applicator state; only JSON booleans and 0/1.
        if isinstance(v, bool) or v in (0, 1):
            return v
        raise ValueError("spraying must be true or false")


class TankMixIn(BaseModel):
    """How much product one litre of tank mix holds (an extension of the start event)."""

    model_config = ConfigDict(extra="ignore")

    product_per_l: Annotated[Finite, PField(gt=0, le=1000)]
    product_unit: Unit | None = None


class MissionStartIn(BaseModel):
    """``{"event": "start", ...}`` on the mission topic."""

    model_config = ConfigDict(extra="ignore")

    event: Literal["start"]
    mission_id: Code
    ts: AwareDatetime
    type: MissionType
    product_code: Code | None = None
    swath_m: Annotated[Finite, PField(gt=0, le=100)] | None = None
    operator_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    planned_field_codes: list[Code] = PField(default_factory=list, max_length=1000)
    tank_mix: TankMixIn | None = None


class MissionEndIn(BaseModel):
    """``{"event": "end", ...}`` on the mission topic."""

    model_config = ConfigDict(extra="ignore")

    event: Literal["end"]
    mission_id: Code
    ts: AwareDatetime
    reported_area_ha: Annotated[Finite, PField(ge=0, le=100_000)] | None = None
    reported_amount: Annotated[Finite, PField(ge=0, le=1_000_000)] | None = None


class StatusIn(BaseModel):
    """The retained ``status`` topic (also the Last Will)."""

    model_config = ConfigDict(extra="ignore")

    online: bool
    ts: AwareDatetime | None = None


# ---------------------------------------------------------------- no-spray zone and ingest schemas
# (added with the drone ingest: API shapes only, no new tables)


class ZoneProperties(BaseModel):
    """The ``properties`` of a no-spray zone Feature."""

    model_config = ConfigDict(extra="ignore")

    code: Code
    kind: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    name: ShortText | None = None
    buffer_m: Annotated[Finite, PField(ge=0, le=1000)] = 0.0


class ZoneCreate(BaseModel):
    """A no-spray zone as a GeoJSON Feature (WGS84); lines and points need a buffer."""

    type: Literal["Feature"]
    geometry: dict[str, Any]
    properties: ZoneProperties
    id: Any = None


# Zones arrive as features of the same collection shape as fields.
ZoneCollectionCreate = FeatureCollectionCreate


class ZonePublic(BaseModel):
    """A no-spray zone as a GeoJSON Feature."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: dict[str, Any]
    bbox: list[float]


class ZonesPublic(BaseModel):
    """A page of no-spray zones: a FeatureCollection that also counts all matches."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[ZonePublic]
    count: int


ZoneImportResult = FieldImportResult


class IngestResult(BaseModel):
    """What feeding a batch of messages or an uploaded log through the pipeline did."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    events: int = 0
    missions: list[str] = PField(default_factory=list)


# ---------------------------------------------------------------- the farmers' app
# (sign-in links, device tokens, entry-time warnings)


class SigninLink(SQLModel, table=True):
    """A one-time link that signs a farmer's phone in; opening it makes a device token."""

    __tablename__ = "signin_links"

    id: int | None = Field(default=None, primary_key=True)
    farmer_id: int = Field(foreign_key="farmers.id", index=True)
    # Only the hash: a copy of the table cannot sign anyone in.
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _ts_column()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The device token (a farmer user) that opening the link created.
    device_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)


class SigninLinkCreate(BaseModel):
    """How long a new sign-in link stays valid (it works once either way)."""

    model_config = ConfigDict(extra="forbid")

    valid_hours: Annotated[int, PField(ge=1, le=168)] = 72


class SigninLinkPublic(BaseModel):
    """A sign-in link as issued: shown once, like a token."""

    url: str
    expires_at: datetime
    qr_png_url: str
    qr_svg_url: str


class DevicePublic(BaseModel):
    """A phone signed in for a farmer (a device token); revoking it signs the phone out."""

    id: int
    name: str
    active: bool
    created_at: datetime


class DevicesPublic(Page):
    data: list[DevicePublic]


class EntryWarningPublic(BaseModel):
    """Something about a diary entry the farmer should know before saving it."""

    code: Literal[
        "dose_above_max",
        "phi_after_planned_harvest",
        "banned",
        "not_registered_for_crop",
        "registration_unknown",
    ]
    message: str
    params: dict[str, Any] = PField(default_factory=dict)


class DiaryCheckPublic(BaseModel):
    """The warnings a diary entry would raise; nothing is written."""

    warnings: list[EntryWarningPublic]
