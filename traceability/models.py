"""Every table and every API schema of agritrace.

Each entity has its family: ``XBase`` (the fields a client writes, with their
constraints), ``X(XBase, table=True)`` (the table), ``XCreate(XBase)`` (what a client
sends), ``XPublic`` (what the API returns) and ``XsPublic`` (a page of them). The
shapes follow ``shared/INTERFACE.md``.

A constraint is written once, in the base: ``Field(max_length=N)`` there sizes the
column of the table and is checked on the create schema, so the API refuses (422)
whatever the database could not hold. Two things to know about SQLModel here:

- a table model does not validate on construction (``Farmer(**data)``): validation
  happens on the create schema, before a row is built;
- a column's length comes only from the field's own ``Field(max_length=...)``, never
  from an ``Annotated`` alias, so aliases below carry content rules (trimming,
  patterns, no control characters) and each field states its length.

``XPublic`` schemas list plain types rather than inherit the base: they show what is
stored, and a value stored before a rule was tightened must still be shown, not turn
a list into a server error.

Following farmOS, fields are land assets and drones are equipment; diary entries
and missions are logs that point at assets, with a time and a status.

Why one file past the house's size rule: this module is the schema, and it is read as
one, the way fastapi's full-stack template keeps one ``models.py``. It builds on nothing
of the application but its settings, GS1 numbers and Vietnam time (``config``, ``gs1``,
``timezone``), and the
services, the API and the reports build on it. Its families reference each other (a
mission points at a drone, a field and a product; a lot at seasons and diary entries),
so split by family the modules would import one another or need a shared base module
anyway. Its length is many small families, each under its own heading below, not long
code: no function in it passes the house's function size.
"""

import math
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic import Field as PField
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from traceability.config import get_settings
from traceability.gs1 import gtin14
from traceability.timezone import VN_TZ


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

# What a farm record may be dated: the first VietGAP diaries are from 2008, so a day
# before 2000 is a typing error (year 1), and a day far ahead is a phone's wrong clock.
EARLIEST_DAY = date(2000, 1, 1)


def _clock_ahead() -> timedelta:
    """How far ahead of now a record's time may be (``AGRITRACE_MAX_CLOCK_AHEAD_H``)."""
    return timedelta(hours=get_settings().max_clock_ahead_h)


_EAST_MOST = timedelta(hours=14)


def _within(ahead: Callable[[], timedelta]) -> AfterValidator:
    """A day (or a time) from :data:`EARLIEST_DAY` to ``ahead()`` after now (UTC)."""

    def check(value: date) -> date:
        day = value.date() if isinstance(value, datetime) else value
        if day < EARLIEST_DAY:
            raise ValueError(f"is before {EARLIEST_DAY.isoformat()}: check the year")
        latest = utcnow() + ahead()
        # A day is a calendar day somewhere: it may already be tomorrow east of UTC (UTC+14).
        if value > (latest if isinstance(value, datetime) else (latest + _EAST_MOST).date()):
            raise ValueError(
                f"is more than {ahead().total_seconds() / 3600:g} h ahead of now: the latest "
                f"accepted is {latest.isoformat(timespec='minutes')}"
            )
        return value

    return AfterValidator(check)


#: When something was done or harvested: not ahead of now beyond the clock tolerance.
DoneAt = Annotated[AwareDatetime, _within(_clock_ahead)]
DoneOn = Annotated[date, _within(_clock_ahead)]
#: A day a season is planned for (sowing, its end, its harvest): up to two years ahead.
PlannedOn = Annotated[date, _within(lambda: timedelta(days=2 * 366))]

# Codes appear in URLs and MQTT topics: no slashes, wildcards or spaces. The alias keeps
# its length for codes that are no column of their own (lists of codes, references by
# code); a code column also says max_length=CODE_LENGTH, which sizes it.
CODE_LENGTH = 64
Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=CODE_LENGTH,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
    ),
]


# Bidirectional embeddings, overrides and isolates reorder what follows them on screen: a
# name holding U+202E shows its letters backwards to a buyer, a spoof the eye cannot see.
_BIDI_CONTROLS = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))
# Letters and symbols to Unicode that draw nothing (Hangul fillers, the blank braille cell).
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def checked_text(value: str) -> str:
    """``value`` in NFC; ``ValueError`` if it holds a control or bidirectional character.

    >>> checked_text("Gia\\u0301 Rai")
    'Giá Rai'
    """
    # PostgreSQL refuses NUL in text while SQLite stores it: refuse control characters up
    # front so both backends give the same clear answer (tabs and line breaks are fine).
    if any((ord(c) < 32 and c not in "\t\n\r") or "\x7f" <= c <= "\x9f" for c in value):
        raise ValueError("must not contain control characters (such as NUL)")
    if value.isascii():
        return value
    if not _BIDI_CONTROLS.isdisjoint(value):
        raise ValueError(
            "must not contain bidirectional controls (U+202A-U+202E, U+2066-U+2069): "
            "they change the order in which the text is shown"
        )
    # One spelling per text: "Giá Rai" typed on a phone that composes accents and on one
    # that does not is one village (NFC, as the web and most keyboards write it).
    return unicodedata.normalize("NFC", value)


def visible(value: str) -> bool:
    """Whether ``value`` shows anything: a letter, digit, punctuation mark or symbol.

    >>> visible("Cà Mau"), visible("\u200b"), visible("\u3164 \u0301")
    (True, False, False)
    """
    if value.isascii():
        return any("!" <= c <= "~" for c in value)
    return any(unicodedata.category(c)[0] in "LNPS" and c not in _BLANK for c in value)


def _visible(value: str) -> str:
    # A lone zero-width space passes "not empty once trimmed" and shows as nothing.
    if value and not visible(value):
        raise ValueError("must contain a visible character (not only blank or zero-width ones)")
    return value


NoControl = AfterValidator(checked_text)
Visible = AfterValidator(_visible)
# Text a person typed, trimmed; its length is the field's own max_length.
Text = Annotated[str, StringConstraints(strip_whitespace=True), NoControl, Visible]
# A name: text that is not empty once trimmed.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), NoControl, Visible]
# Text kept exactly as sent (a note's layout, a registration number).
RawText = Annotated[str, NoControl]
# The usual length of a name or a short description.
NAME_LENGTH = 200
# A reference to a row by its id: bounded so that a huge number is a 422, not a database overflow.
DbId = Annotated[int, PField(ge=1, le=2**31 - 1)]


# ---------------------------------------------------------------- enumerations


class Role(StrEnum):
    """What a user may do."""

    admin = "admin"
    office = "office"
    cooperative = "cooperative"
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


class StrawHandling(StrEnum):
    """What became of a rice field's straw (a ``straw`` diary entry), as the low-emission
    rice programme records it: removed from the field, worked into the soil, composted
    (or used for mushrooms), or burnt."""

    removed = "removed"
    incorporated = "incorporated"
    composted = "composted"
    burnt = "burnt"


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


class ApplicationMethod(StrEnum):
    """How a product is put on a field, as its label says: a tank mix sprayed as a liquid,
    granules broadcast dry (Furadan 3GR, urea), or seed sown."""

    spray = "spray"
    spread = "spread"
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


class MissionSource(StrEnum):
    """Where a mission's record came from: agritrace's own contract (MQTT, a JSON or CSV
    log in its keys), a MAVLink telemetry log or stream, an ISO 11783-10 TaskData set, a
    vendor's flight-record export read through a column mapping, or a vendor's exported
    track (KML, GeoJSON)."""

    contract = "contract"
    mavlink = "mavlink"
    isoxml = "isoxml"
    csv = "csv"
    track = "track"


class MissionStatus(StrEnum):
    """A mission is open until its end event arrives."""

    open = "open"
    complete = "complete"


class Page(BaseModel):
    """Common shape of every paged list: ``{"data": [...], "count": total}``."""

    count: int


# ---------------------------------------------------------------- users


class UserBase(SQLModel):
    """What a user is, as given when they are created."""

    name: Name = Field(max_length=NAME_LENGTH)
    role: Role


class User(UserBase, table=True):
    """Someone who calls the API with a bearer token."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    farmer_id: int | None = Field(default=None, foreign_key="farmers.id", index=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    active: bool = True
    created_at: datetime = _ts_column()


class UserCreate(UserBase):
    """A new API user; a farmer user is tied to one farmer."""

    farmer_id: DbId | None = None
    organisation_code: Code | None = None
    token_expires_at: AwareDatetime | None = None


class UserPublic(BaseModel):
    """A user as the API shows it (never the token)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    farmer_id: int | None
    organisation_code: str | None = None
    active: bool
    created_at: datetime


class UserWithToken(UserPublic):
    """Returned once, at creation: the only time the token is shown."""

    token: str
    token_id: int
    token_expires_at: datetime | None = None


# ---------------------------------------------------------------- farmers

# A phone number as people write it: digits, spaces, dots, dashes, an optional +.
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 .\-]{6,20}$")]
# A Vietnamese identity card (9 digits) or citizen identity card (12 digits) number.
NationalId = Annotated[str, StringConstraints(pattern=r"^[0-9]{9,12}$")]


class FarmerBase(SQLModel):
    """What is known about a farmer when they are registered."""

    code: Code | None = Field(default=None, max_length=CODE_LENGTH, unique=True)
    name: Name = Field(max_length=NAME_LENGTH)
    village: Text | None = Field(default=None, max_length=NAME_LENGTH)
    phone: Phone | None = Field(default=None, max_length=32)
    national_id: NationalId | None = Field(default=None, max_length=32)


class Farmer(FarmerBase, table=True):
    """A person or household that farms fields."""

    __tablename__ = "farmers"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    created_at: datetime = _ts_column()


class FarmerCreate(FarmerBase):
    """A new farmer."""

    model_config = ConfigDict(extra="forbid")

    organisation_code: Code | None = None


class FarmerPublic(BaseModel):
    """A farmer as the authenticated API shows it (never the national ID)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str | None
    name: str
    village: str | None
    phone: str | None
    organisation_code: str | None = None
    created_at: datetime


class FarmersPublic(Page):
    data: list[FarmerPublic]


# ---------------------------------------------------------------- fields


class FarmFieldBase(SQLModel):
    """What a client says about a field beside its geometry (its Feature's properties)."""

    code: Code = Field(max_length=CODE_LENGTH, unique=True, index=True)
    name: Text | None = Field(default=None, max_length=NAME_LENGTH)
    # The commune (the lower of Vietnam's two levels since 2025; traceability.adminunits);
    # the former district stays a free label.
    commune_code: Code | None = Field(default=None, max_length=16, index=True)
    district: Text | None = Field(default=None, max_length=NAME_LENGTH)


class FarmField(FarmFieldBase, table=True):
    """A field: a land asset with a WGS84 polygon and its true area."""

    __tablename__ = "fields"
    __table_args__ = (Index("ix_fields_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),)

    id: int | None = Field(default=None, primary_key=True)
    farmer_id: int = Field(foreign_key="farmers.id", index=True)
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


class FieldProperties(FarmFieldBase):
    """The ``properties`` of a field Feature sent by a client."""

    model_config = ConfigDict(extra="allow")

    farmer_id: DbId


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


class FieldPublicProperties(BaseModel):
    id: int
    code: str
    farmer_id: int
    name: str | None = None
    commune_code: str | None = None
    district: str | None = None
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


#: The field's water before sowing as the farmer states it, in the IPCC 2019 Refinement's
#: classes (Vol. 4, Ch. 5, Table 5.13): non-flooded under 180 days, over 180 days, over 365
#: days, or flooded more than 30 days. The low-emission rice report uses it where the
#: diary shows no earlier crop and no flooding before sowing.
PreSeasonWater = Literal[
    "non_flooded_lt_180d", "non_flooded_gt_180d", "non_flooded_gt_365d", "flooded_gt_30d"
]


class SeasonBase(SQLModel):
    """A crop cycle as a client describes it."""

    crop: Name = Field(max_length=100)
    variety: Text | None = Field(default=None, max_length=100)
    sown_on: PlannedOn
    ended_on: PlannedOn | None = None
    planned_harvest_on: PlannedOn | None = None
    pre_season_water: PreSeasonWater | None = Field(default=None, sa_type=String(24))


class Season(SeasonBase, table=True):
    """A crop cycle on one field."""

    __tablename__ = "seasons"

    id: int | None = Field(default=None, primary_key=True)
    field_id: int = Field(foreign_key="fields.id", index=True)
    created_at: datetime = _ts_column()


class SeasonCreate(SeasonBase):
    """A new crop season on a field."""

    model_config = ConfigDict(extra="forbid")

    field_code: Code


class SeasonPlan(BaseModel):
    """The day a season's harvest is planned for (null: no plan); the farmer's PHI
    warnings are held against it."""

    model_config = ConfigDict(extra="forbid")

    planned_harvest_on: PlannedOn | None


class SeasonPreSeason(BaseModel):
    """The field's water before the season's sowing, as the farmer states it (null: not
    stated)."""

    model_config = ConfigDict(extra="forbid")

    pre_season_water: PreSeasonWater | None


class SeasonPublic(BaseModel):
    """A season as the API shows it."""

    id: int
    field_code: str
    crop: str
    variety: str | None
    sown_on: date
    ended_on: date | None
    planned_harvest_on: date | None = None
    pre_season_water: str | None = None


class SeasonsPublic(Page):
    data: list[SeasonPublic]


# ---------------------------------------------------------------- input products


class InputProductBase(SQLModel):
    """An input product as its label describes it."""

    code: Code = Field(max_length=CODE_LENGTH, unique=True, index=True)
    name: Name = Field(max_length=NAME_LENGTH)
    kind: InputKind
    unit: Unit
    phi_days: int | None = Field(default=None, ge=0, le=365)
    max_dose_per_ha: float | None = Field(default=None, gt=0, lt=100_000)
    active_ingredient: Text | None = Field(default=None, max_length=NAME_LENGTH)
    registration_no: RawText | None = Field(default=None, max_length=64)
    target: Text | None = Field(default=None, max_length=NAME_LENGTH)
    registration_status: RegistrationStatus = Field(
        default=RegistrationStatus.unknown, sa_column_kwargs={"server_default": "unknown"}
    )
    # Nitrogen as a percentage of the product's mass (urea 46, DAP 18, NPK 20-20-15 20):
    # the low-emission rice report's kg N per hectare. None when not known.
    nitrogen_pct: float | None = Field(default=None, ge=0, le=100)
    # How the label says to apply it; None when not recorded (the mission's type is then
    # not checked against it).
    application_method: ApplicationMethod | None = Field(default=None, max_length=16)


class InputProduct(InputProductBase, table=True):
    """An input product: pesticide, fertilizer or seed."""

    __tablename__ = "inputs"

    id: int | None = Field(default=None, primary_key=True)
    # The crops the product is registered for (a JSON list; the request checks each name).
    registered_crops: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts_column()


class InputProductCreate(InputProductBase):
    """A new input product."""

    model_config = ConfigDict(extra="forbid")

    registered_crops: list[Annotated[Text, StringConstraints(max_length=100)]] | None = PField(
        default=None, max_length=50
    )


class InputRegistration(BaseModel):
    """The registration number an office reads on a product's label or certificate ("Số
    đăng ký"); null clears it. Written as printed, without surrounding spaces."""

    model_config = ConfigDict(extra="forbid")

    registration_no: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                  NoControl, Visible] | None
    )  # fmt: skip


class InputProductPublic(BaseModel):
    """An input product as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: InputKind
    unit: Unit
    phi_days: int | None = None
    max_dose_per_ha: float | None = None
    active_ingredient: str | None = None
    registration_no: str | None = None
    target: str | None = None
    registration_status: RegistrationStatus = RegistrationStatus.unknown
    registered_crops: list[str] | None = None
    nitrogen_pct: float | None = None
    application_method: ApplicationMethod | None = None
    id: int


class InputProductsPublic(Page):
    data: list[InputProductPublic]


# ---------------------------------------------------------------- drones


class DroneBase(SQLModel):
    """A drone as it is registered."""

    code: Code = Field(max_length=CODE_LENGTH, unique=True, index=True)
    model: Text | None = Field(default=None, max_length=100)
    swath_m: float | None = Field(default=None, gt=0, le=50)
    tank_capacity: float | None = Field(default=None, gt=0, le=500)
    operator: Text | None = Field(default=None, max_length=NAME_LENGTH)


class Drone(DroneBase, table=True):
    """An agricultural drone: equipment; its code is the ``drone_id`` in topics."""

    __tablename__ = "drones"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    online: bool | None = None
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts_column()


class DroneCreate(DroneBase):
    """A new drone."""

    model_config = ConfigDict(extra="forbid")

    organisation_code: Code | None = None


class DronePublic(BaseModel):
    """A drone as the API shows it, with its last reported status."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    model: str | None = None
    swath_m: float | None = None
    tank_capacity: float | None = None
    operator: str | None = None
    organisation_code: str | None = None
    id: int
    online: bool | None = None
    status_at: datetime | None = None


class DronesPublic(Page):
    data: list[DronePublic]


# ---------------------------------------------------------------- diary

# Set by an offline phone app so that re-sending an entry never records it twice.
ClientId = Annotated[str, StringConstraints(min_length=8), NoControl]


class DiaryEntryBase(SQLModel):
    """What a diary entry records, as a farmer writes it."""

    occurred_at: DoneAt = Field(sa_type=UTCDateTime)
    activity: Activity
    quantity: Annotated[float, PField(ge=0, lt=1_000_000, allow_inf_nan=False)] | None = None
    unit: Unit | None = None
    area_ha: Annotated[float, PField(gt=0, lt=100_000, allow_inf_nan=False)] | None = None
    note: RawText | None = Field(default=None, max_length=2000)
    # The records a VietGAP inspector asks for (TCVN 11892-1:2017): the supplier of a
    # purchase or the buyer of a sale, and who applied a spray or fertiliser. People's
    # names: never on the public trace, and hidden from operators like the note.
    counterparty: Text | None = Field(default=None, max_length=NAME_LENGTH)
    applied_by: Text | None = Field(default=None, max_length=NAME_LENGTH)
    # A ``straw`` entry's outcome, a code rather than words, so a report can count it
    # without reading anyone's note.
    straw_handling: StrawHandling | None = None
    # How much straw the field had, in tonnes (dry weight) per hectare: the IPCC's organic
    # amendment scaling factor needs it when straw is worked into the soil.
    straw_t_per_ha: Annotated[float, PField(ge=0, le=30, allow_inf_nan=False)] | None = None
    retracts: bool = False
    # Unique per author (uq_diary_author_client), and looked up per farmer: another farmer's
    # phone may use the same one.
    client_id: ClientId | None = Field(default=None, max_length=64)


class DiaryEntry(DiaryEntryBase, table=True):
    """One line of a field's production diary: append-only and hash-chained."""

    __tablename__ = "diary_entries"
    __table_args__ = (
        UniqueConstraint("field_id", "chain_seq", name="uq_diary_chain"),
        UniqueConstraint("author_id", "client_id", name="uq_diary_author_client"),
        Index("ix_diary_field_time", "field_id", "occurred_at"),
        # The entries that may be applications (a product named, no withdrawal), with
        # what the province's sums read: PostgreSQL answers them from this index alone
        # (one in three entries, a tenth of the table's pages), in id order for the
        # corrections' anti-join. Migration 0015_applied_index.
        Index(
            "ix_diary_applied",
            "id",
            postgresql_include=[
                "field_id",
                "occurred_at",
                "input_id",
                "activity",
                "area_ha",
                "mission_id",
            ],
            postgresql_where=text("input_id IS NOT NULL AND retracts IS false"),
            sqlite_where=text("input_id IS NOT NULL AND retracts = 0"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    field_id: int = Field(foreign_key="fields.id")
    season_id: int | None = Field(default=None, foreign_key="seasons.id", index=True)
    chain_seq: int
    recorded_at: datetime = _ts_column()
    input_id: int | None = Field(default=None, foreign_key="inputs.id")
    corrects_id: int | None = Field(default=None, foreign_key="diary_entries.id", index=True)
    source: str = Field(default="manual", max_length=16)
    mission_id: str | None = Field(default=None, max_length=64, index=True)
    author_id: int | None = Field(default=None, foreign_key="users.id")
    # The author's role when the entry was written (a v2 hash covers it, never the user's id).
    author_role: str | None = Field(default=None, max_length=16)
    # How ``hash`` was computed: 1, orjson with row ids (entries written before revision
    # 0012_trust); 2, RFC 8785 bytes naming things by what they are (traceability/canonical.py).
    hash_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # What the verdict rests on, as it stood when the entry was written: the product's PHI
    # and dose limit, and a drone line's measured figures and the digest of its points.
    # Hashed only when set (entries written before it keep their hash).
    chained: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class DiaryEntryCreate(DiaryEntryBase):
    """A new diary entry, or a correction of an earlier one (``corrects``)."""

    model_config = ConfigDict(extra="forbid")

    field_code: Code
    input_code: Code | None = None
    corrects: DbId | None = None


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
    counterparty: str | None
    applied_by: str | None
    straw_handling: StrawHandling | None = None
    straw_t_per_ha: float | None = None
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


GS1_LOT_MAX_LENGTH = 20
# A GTIN-8/12/13/14 with a right check digit, kept as 14 digits (leading zeros matter,
# so it is a string, never a number).
Gtin = Annotated[str, AfterValidator(gtin14)]


class LotBase(SQLModel):
    """A lot as it is declared at harvest (or at milling)."""

    code: Code = Field(max_length=CODE_LENGTH, unique=True, index=True)
    product_name: Name = Field(max_length=NAME_LENGTH)
    harvested_on: DoneOn
    # When the harvest ended, if the farmer gave a time: work after it belongs to the next
    # crop, work before it (the same day included) to this lot.
    harvested_at: DoneAt | None = Field(default=None, sa_type=UTCDateTime)
    quantity_kg: Annotated[float, PField(gt=0, lt=1e9, allow_inf_nan=False)]
    gtin: Gtin | None = Field(default=None, max_length=14, index=True)
    # What Circular 02/2024/TT-BKHCN asks a trace to show beside the record itself.
    brand: Text | None = Field(default=None, max_length=NAME_LENGTH)
    shelf_life_days: Annotated[int, PField(ge=1, le=3650)] | None = None


class Lot(LotBase, table=True):
    """A harvest lot (or a lot milled or mixed from others)."""

    __tablename__ = "lots"

    id: int | None = Field(default=None, primary_key=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _ts_column()


class AmendmentAcceptance(SQLModel, table=True):
    """A certifying body's reviewer accepting a diary amendment recorded after a lot was.

    Append-only: one row per accepted amendment (a diary entry that corrects or withdraws
    another), with who (a user, shown publicly only as a role), when and why.
    """

    __tablename__ = "amendment_acceptances"

    id: int | None = Field(default=None, primary_key=True)
    lot_id: int = Field(foreign_key="lots.id", index=True)
    entry_id: int = Field(foreign_key="diary_entries.id", unique=True)
    accepted_by: int | None = Field(default=None, foreign_key="users.id")
    role: str = Field(max_length=16)
    reason: str = Field(max_length=1000)
    accepted_at: datetime = _ts_column()


class AmendmentAcceptanceCreate(BaseModel):
    """Why the reviewer accepts the amendment (kept with the acceptance, not published)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[Text, StringConstraints(min_length=3, max_length=1000)]


class AmendmentAcceptancePublic(BaseModel):
    """An accepted amendment: which lot, which entry, when and by which role."""

    lot_code: str
    entry_id: int
    role: str
    accepted_at: datetime


class LotCreate(LotBase):
    """A new lot from fields, from parent lots, or both."""

    model_config = ConfigDict(extra="forbid")

    field_codes: list[Code] = PField(default_factory=list, max_length=500)
    parent_lots: list[Code] = PField(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _gs1_lot_length(self) -> "LotCreate":
        # A GS1 batch/lot number (AI 10) holds at most 20 characters: a longer code could
        # not be carried in the lot's Digital Link.
        if self.gtin and len(self.code) > GS1_LOT_MAX_LENGTH:
            raise ValueError(
                f"a lot with a GTIN has a code of at most {GS1_LOT_MAX_LENGTH} characters "
                "(GS1 batch/lot number, AI 10)"
            )
        # Vietnam keeps UTC+7 all year: the harvest's local day is its time's day there.
        if self.harvested_at is not None:
            local = self.harvested_at.astimezone(VN_TZ).date()
            if local != self.harvested_on:
                raise ValueError(
                    f"harvested_at is on {local.isoformat()} in Vietnam time, "
                    f"not on harvested_on {self.harvested_on.isoformat()}"
                )
        return self


class LotPublic(BaseModel):
    """A lot as the API shows it."""

    id: int
    code: str
    product_name: str
    harvested_on: date
    harvested_at: datetime | None = None
    quantity_kg: float
    gtin: str | None
    brand: str | None = None
    shelf_life_days: int | None = None
    field_codes: list[str]
    parent_lots: list[str]
    season_ids: list[int]
    created_at: datetime


class LotsPublic(Page):
    data: list[LotPublic]


# The largest product photo a lot may carry: a phone on 3G loads it with the trace page.
LOT_IMAGE_MAX_BYTES = 300_000


class LotImage(SQLModel, table=True):
    """A lot's product photo, uploaded and served by the app (the page loads nothing else)."""

    __tablename__ = "lot_images"

    lot_id: int = Field(foreign_key="lots.id", primary_key=True)
    media_type: str = Field(max_length=32)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64)
    uploaded_by: int | None = Field(default=None, foreign_key="users.id")
    uploaded_at: datetime = _ts_column()


# ---------------------------------------------------------------- no-spray zones


class NoSprayZoneBase(SQLModel):
    """What a client says about a no-spray zone beside its geometry."""

    code: Code = Field(max_length=CODE_LENGTH, unique=True, index=True)
    kind: Name = Field(max_length=32)
    name: Text | None = Field(default=None, max_length=NAME_LENGTH)
    buffer_m: Annotated[float, PField(ge=0, le=1000, allow_inf_nan=False)] = 0.0


class NoSprayZone(NoSprayZoneBase, table=True):
    """A place no drone may spray: canal, shrimp pond, house — with a buffer."""

    __tablename__ = "nospray_zones"
    __table_args__ = (Index("ix_zones_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),)

    id: int | None = Field(default=None, primary_key=True)
    geometry: dict = Field(sa_column=Column(JSON, nullable=False))
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    created_at: datetime = _ts_column()


# ---------------------------------------------------------------- telemetry and missions


class TelemetryPoint(SQLModel, table=True):
    """One fix of a drone; ``(drone_code, seq)`` identifies it, so repeats are no-ops.

    On PostgreSQL the table is partitioned by month of ``ts`` (migration 0006,
    :mod:`traceability.ingest.partitions`), so a unique key here would have to include
    the time; the key that makes a repeat a no-op is :class:`TelemetryKey`'s instead.
    """

    __tablename__ = "telemetry"
    __table_args__ = (Index("ix_telemetry_mission_ts", "mission_id", "ts"),)

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


class TelemetryKey(SQLModel, table=True):
    """Each ``(drone_code, seq)`` ever stored, once, across all time: the exactly-once key.

    A point is written to ``telemetry`` only if its key was new here, in the same
    transaction, so a point re-sent with another ``ts`` (another partition) is still a
    repeat. Narrow and unpartitioned: two columns per point.
    """

    __tablename__ = "telemetry_keys"

    drone_code: str = Field(max_length=64, primary_key=True)
    seq: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )


class Mission(SQLModel, table=True):
    """A drone's mission: a log of work with its measured result."""

    __tablename__ = "missions"
    # The open missions (the idle ones are found among them): a partial index whose
    # members change only when a mission opens or closes, so that the ingester's update
    # of a flying mission's count changes no indexed value and is made in place
    # (migration 0017, which also leaves room in the table's pages for it).
    __table_args__ = (
        Index(
            "ix_missions_open",
            "id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

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
    # The database's default, not SQLAlchemy's: an insert that does not name the column
    # (the ingest's, on any schema since 0001) gets "contract" from the table itself.
    source: MissionSource = Field(
        default=MissionSource.contract,
        sa_column=Column(
            SAEnum(MissionSource), nullable=False, server_default=MissionSource.contract.value
        ),
    )
    # The drone never said when its sprayer was on (a MAVLink vehicle with no pump
    # output among its parameters): its fixes' "not spraying" means "not known".
    sprayer_state_unknown: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
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
    # The first and last fix's own times: when the work was done, whatever the start
    # and end events say (they are the drone's claim; the points are the record).
    first_fix_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_fix_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
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
    last_point_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
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


class MissionClaim(SQLModel, table=True):
    """A field a mission's plan names but whose fixes all lie far from it (``distance_m``
    from the nearest fix, in the field's UTM zone): a drone's position disagreeing with
    the record, shown on the field's trace instead of silently not counted."""

    __tablename__ = "mission_claims"

    mission_pk: int = Field(foreign_key="missions.id", primary_key=True)
    field_id: int = Field(foreign_key="fields.id", primary_key=True, index=True)
    distance_m: float


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
    source: MissionSource = MissionSource.contract
    sprayer_state_unknown: bool = False
    started_at: datetime | None
    ended_at: datetime | None
    first_fix_at: datetime | None = None
    last_fix_at: datetime | None = None
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


# ---------------------------------------------------------------- finite numbers (zone buffers)


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number (NaN and Infinity are not allowed)")
    return value


Finite = Annotated[float, AfterValidator(_finite)]


# ---------------------------------------------------------------- no-spray zone and ingest schemas
# (added with the drone ingest: API shapes only, no new tables)


class ZoneProperties(NoSprayZoneBase):
    """The ``properties`` of a no-spray zone Feature."""

    model_config = ConfigDict(extra="ignore")


class ZoneCreate(BaseModel):
    """A no-spray zone as a GeoJSON Feature (WGS84); lines and points need a buffer."""

    type: Literal["Feature"]
    geometry: dict[str, Any]
    properties: ZoneProperties
    id: Any = None


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


class IngestResult(BaseModel):
    """What feeding a batch of messages or an uploaded log through the pipeline did."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    # Of the rejected: points re-sent under a stored (drone, seq) with other content.
    conflicts: int = 0
    events: int = 0
    missions: list[str] = PField(default_factory=list)


# ---------------------------------------------------------------- organisations, tokens, units
# (added with roles and organisations: cooperatives, drone services, the agriculture office)


class OrganisationKind(StrEnum):
    """What an organisation is; a user's role must fit its organisation's kind."""

    cooperative = "cooperative"
    drone_service = "drone_service"
    office = "office"


class OrganisationBase(SQLModel):
    """What an organisation is, as it is registered."""

    code: Code = Field(max_length=CODE_LENGTH, unique=True, index=True)
    name: Name = Field(max_length=NAME_LENGTH)
    kind: OrganisationKind = Field(max_length=16)
    # Public facts of a cooperative as a producer (Circular 02/2024/TT-BKHCN): where it is
    # (village and commune, never a person's address), its brand and its VietGAP certificate.
    address: Text | None = Field(default=None, max_length=NAME_LENGTH)
    brand: Text | None = Field(default=None, max_length=NAME_LENGTH)
    certificate_standard: Text | None = Field(default=None, max_length=64)
    certificate_no: Text | None = Field(default=None, max_length=64)
    certificate_issuer: Text | None = Field(default=None, max_length=NAME_LENGTH)
    certificate_valid_from: date | None = None
    certificate_valid_to: date | None = None


class Organisation(OrganisationBase, table=True):
    """A cooperative (HTX) with member farmers, a drone service with drones, or the office."""

    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _ts_column()


def _certificate_in_order(data: Any) -> Any:
    start, end = data.certificate_valid_from, data.certificate_valid_to
    if start and end and end < start:
        raise ValueError("certificate_valid_to is before certificate_valid_from")
    return data


class OrganisationCreate(OrganisationBase):
    """A new organisation."""

    model_config = ConfigDict(extra="forbid")

    _dates = model_validator(mode="after")(_certificate_in_order)


class OrganisationUpdate(SQLModel):
    """What a cooperative (or the admin) may change of an organisation: its public facts."""

    model_config = ConfigDict(extra="forbid")

    address: Text | None = PField(default=None, max_length=NAME_LENGTH)
    brand: Text | None = PField(default=None, max_length=NAME_LENGTH)
    certificate_standard: Text | None = PField(default=None, max_length=64)
    certificate_no: Text | None = PField(default=None, max_length=64)
    certificate_issuer: Text | None = PField(default=None, max_length=NAME_LENGTH)
    certificate_valid_from: date | None = None
    certificate_valid_to: date | None = None

    _dates = model_validator(mode="after")(_certificate_in_order)


class OrganisationPublic(BaseModel):
    """An organisation as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: OrganisationKind
    address: str | None = None
    brand: str | None = None
    certificate_standard: str | None = None
    certificate_no: str | None = None
    certificate_issuer: str | None = None
    certificate_valid_from: date | None = None
    certificate_valid_to: date | None = None
    created_at: datetime


class OrganisationsPublic(Page):
    data: list[OrganisationPublic]


class Token(SQLModel, table=True):
    """A bearer token of a user; a user may hold several (a phone, a laptop)."""

    __tablename__ = "tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    # Tokens are 256-bit random secrets, so a plain SHA-256 is enough to make a
    # leaked table useless; a slow password hash would only slow every request.
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _ts_column()
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TokenCreate(BaseModel):
    """A new token for a user; without ``expires_at`` it lasts until revoked."""

    model_config = ConfigDict(extra="forbid")

    expires_at: AwareDatetime | None = None


class TokenPublic(BaseModel):
    """A token as the API shows it (never the secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenWithSecret(TokenPublic):
    """Returned once, when the token is issued."""

    token: str


class TokensPublic(Page):
    data: list[TokenPublic]


class AdminUnitLevel(StrEnum):
    """Vietnam's two levels of local government since 1 July 2025."""

    province = "province"
    commune = "commune"


class AdminUnitPublic(BaseModel):
    """A province, or a commune (xã, phường) with its province."""

    code: str
    name: str
    level: AdminUnitLevel
    parent_code: str | None
    provisional_code: bool


class AdminUnitsPublic(Page):
    data: list[AdminUnitPublic]


# ---------------------------------------------------------------- transparency log
# Signed checkpoints of every field's diary head (see traceability/transparency.py).


class LogCheckpoint(SQLModel, table=True):
    """A signed Merkle root over every field's diary head at one moment (superseded by
    :class:`TlogCheckpoint` since revision 0012_trust; kept so saved copies still check)."""

    __tablename__ = "log_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    origin: str = Field(max_length=200)
    size: int
    root_hash: str = Field(max_length=64)
    issued_at: datetime = Field(sa_type=UTCDateTime, index=True)
    key_id: str = Field(max_length=16)
    public_key: str = Field(max_length=200)
    # The signed text, stored as signed: a copy anyone can check byte for byte.
    note: str = Field(max_length=1000)
    signature: str = Field(max_length=200)


class LogLeaf(SQLModel, table=True):
    """One field's diary head as a checkpoint recorded it."""

    __tablename__ = "log_leaves"
    __table_args__ = (Index("ix_log_leaves_field", "field_id", "checkpoint_id"),)

    checkpoint_id: int = Field(foreign_key="log_checkpoints.id", primary_key=True)
    idx: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    field_id: int = Field(foreign_key="fields.id")
    field_code: str = Field(max_length=64)
    length: int
    head: str | None = Field(default=None, max_length=64)


class TlogLeaf(SQLModel, table=True):
    """One leaf of the append-only log: a diary entry or a reviewer's acceptance, at a
    gapless index the sequencer gave it (traceability/services/tlog.py).

    ``leaf_hash`` is what the tree is built from; ``entry_id``/``acceptance_id`` only
    point at the row it was made from. A verifier recomputes the leaf from that row's
    content (the field's code, the entry's content hash), never trusting the pointer.
    """

    __tablename__ = "tlog_leaves"

    idx: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    entry_id: int | None = Field(default=None, foreign_key="diary_entries.id", unique=True)
    acceptance_id: int | None = Field(
        default=None, foreign_key="amendment_acceptances.id", unique=True
    )
    field_code: str = Field(max_length=64, index=True)
    leaf_hash: str = Field(max_length=64)


class TlogNode(SQLModel, table=True):
    """The hash of one whole, aligned subtree of 256^level leaves of the log (level ≥ 1):
    an entry of a C2SP tlog-tiles hash tile at that level, stored by the sequencer when
    its last leaf is appended and never changed (traceability/services/tlog_nodes.py)."""

    __tablename__ = "tlog_nodes"

    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    idx: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hash: str = Field(max_length=64)


class TlogCheckpoint(SQLModel, table=True):
    """A signed checkpoint of the append-only log: a C2SP tlog-checkpoint in a C2SP
    signed note (Ed25519, key name = the log's origin)."""

    __tablename__ = "tlog_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    origin: str = Field(max_length=200)
    size: int = Field(index=True)
    root_hash: str = Field(max_length=64)
    signed_at: datetime = Field(sa_type=UTCDateTime)
    key_hash: str = Field(max_length=8)
    vkey: str = Field(max_length=300)
    # The signed note, stored as signed: text, blank line, signature line.
    note: str = Field(max_length=1000)


# The buyer's trace, rendered ahead of the scan (see traceability/api/trace_cache.py).


class TraceSnapshot(SQLModel, table=True):
    """A lot's public trace as it was last rendered (the JSON, or the page in one language).

    ``stamp`` names what it was built from: the build's version, the public base URL
    and the fingerprint of every row it rests on (the lots of its lineage, ``lot_ids``,
    and their fields, ``field_ids``, both comma-separated). A scan serves ``body`` only
    while the fingerprint it computes from today's rows gives the same stamp.
    """

    __tablename__ = "trace_snapshots"

    lot_id: int = Field(foreign_key="lots.id", primary_key=True, ondelete="CASCADE")
    variant: str = Field(primary_key=True, max_length=16)
    stamp: str
    lot_ids: str
    field_ids: str
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    built_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EmissionRow(SQLModel, table=True):
    """A season's row of the low-emission rice report as it was last computed, and the
    records its figures rest on (the MRV pack's evidence, without the log's indexes).

    ``stamp`` names what it was computed from: the code's version, the settings the row
    reads (emission factors, references), the product catalogue and every row of the
    season's field that the row rests on (PostgreSQL row versions, as a stored trace's
    fingerprint). The report serves ``row`` only while today's rows give the same stamp
    (``reports.kept``).
    """

    __tablename__ = "emission_rows"

    season_id: int = Field(foreign_key="seasons.id", primary_key=True, ondelete="CASCADE")
    field_id: int = Field(index=True)
    stamp: str
    row: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    evidence: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CosignaturePublic(BaseModel):
    """A witness's cosignature on a checkpoint, checked against the configured witness keys
    (AGRITRACE_WITNESS_KEYS)."""

    name: str
    key_id: str = PField(description="hex, the cosigner key ID on the signature line")
    timestamp: int | None = PField(description="the cosignature's time, seconds since 1970")
    verified: bool = PField(
        description="an Ed25519 cosignature/v1 signature by a configured witness key"
    )
    problem: str | None = PField(
        default=None,
        description="why not verified: unknown-key (no configured key of that name and ID) "
        "or bad-signature",
    )


class CheckpointPublic(BaseModel):
    """A published checkpoint: the signed note, its signature and what it states."""

    origin: str
    tree_size: int
    root_hash: str
    issued_at: datetime
    key_id: str
    public_key: str
    note: str
    signature: str
    cosignatures: list[CosignaturePublic] = PField(
        default_factory=list,
        description="the witnesses' cosignature lines, each checked against the configured "
        "witness keys",
    )


class CheckpointsPublic(Page):
    data: list[CheckpointPublic]


class InclusionProof(BaseModel):
    """Where a field's newest logged entry stands in a published checkpoint, and the
    audit path (hex hashes). ``leaf`` is the leaf's bytes: RFC 8785 JSON of the field's
    code, the entry's place in the chain and its hash."""

    field_code: str
    leaf: str | None = None
    checkpoint: CheckpointPublic
    checkpoint_id: int | None = None
    leaf_index: int
    diary_length: int
    diary_head: str | None
    leaf_hash: str
    audit_path: list[str]


class ConsistencyProof(BaseModel):
    """An RFC 9162 consistency proof between two tree sizes of the log."""

    model_config = ConfigDict(populate_by_name=True)

    first: int = PField(alias="from", serialization_alias="from")
    second: int = PField(alias="to", serialization_alias="to")
    proof: list[str] = PField(description="base64 SHA-256 hashes, RFC 9162 §2.1.4 order")


class LeafInclusion(BaseModel):
    """An RFC 9162 inclusion proof of one leaf of the log."""

    index: int
    size: int
    leaf_hash: str = PField(description="base64 SHA-256(0x00 || leaf)")
    proof: list[str] = PField(description="base64 hashes, bottom up")


class FieldProof(BaseModel):
    """A field's newest logged entry in a checkpoint, and its RFC 9162 audit path (hex)."""

    field_code: str
    leaf: str = PField(description="RFC 8785 JSON: field code, seq, entry hash")
    leaf_index: int
    leaf_hash: str
    audit_path: list[str]
    diary_length: int
    diary_head: str
    diary_matches: bool = PField(description="today's diary still gives the logged leaf")


class LotProof(BaseModel):
    """Everything to check a lot's diaries offline against the newest checkpoint: the
    signed note (with any witnesses' cosignatures) and each field's inclusion proof."""

    lot_code: str
    checkpoint: CheckpointPublic
    fields: list[FieldProof]
    not_anchored: list[str] = PField(description="fields with no entry in that checkpoint")


class CheckpointCheck(BaseModel):
    """What checking a saved checkpoint against today's database found."""

    signature_valid: bool
    root_matches: bool
    tree_size: int
    fields_checked: int
    problems: list[str]

    @property
    def holds(self) -> bool:
        """Whether the database still agrees with the checkpoint."""
        return self.signature_valid and self.root_matches and not self.problems


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
        "changes_harvested_lot",
    ]
    message: str
    params: dict[str, Any] = PField(default_factory=dict)


class DiaryCheckPublic(BaseModel):
    """The warnings a diary entry would raise; nothing is written."""

    warnings: list[EntryWarningPublic]
