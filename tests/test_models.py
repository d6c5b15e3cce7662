"""The API never accepts text that a column of the database cannot hold.

Checked from the outside: every sized column of every table is compared with the
JSON schema of the request that fills it, so a length changed on one side only is
caught here, whatever way the models share their constraints.
"""

import unicodedata
from typing import Annotated

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import Enum
from sqlmodel import SQLModel

from traceability import models
from traceability.ingest import contract

# The request schema that fills each table the API writes.
WRITTEN_BY = {
    "users": models.UserCreate,
    "farmers": models.FarmerCreate,
    "fields": models.FieldProperties,
    "seasons": models.SeasonCreate,
    "inputs": models.InputProductCreate,
    "drones": models.DroneCreate,
    "diary_entries": models.DiaryEntryCreate,
    "lots": models.LotCreate,
    "nospray_zones": models.ZoneProperties,
    "organisations": models.OrganisationCreate,
    "amendment_acceptances": models.AmendmentAcceptanceCreate,
}
# Filled by the services from computed values or from the drones' MQTT messages.
NOT_WRITTEN_BY_A_REQUEST = {
    "lot_fields",
    "lot_parents",
    "missions",
    "mission_fields",
    "mission_claims",
    "telemetry",
    "telemetry_keys",
    "ingest_rejects",
    "tokens",
    "log_checkpoints",
    "log_leaves",
    "tlog_leaves",
    "tlog_nodes",
    "tlog_checkpoints",
    "signin_links",
    "lot_images",
    "trace_snapshots",
    "emission_rows",  # the low-emission rice report's rows, kept by the report itself
}
# Request fields that name a row of another table by its code.
REFERENCES = [
    (models.SeasonCreate, "field_code", "fields.code"),
    (models.DiaryEntryCreate, "field_code", "fields.code"),
    (models.DiaryEntryCreate, "input_code", "inputs.code"),
    (models.LotCreate, "field_codes", "fields.code"),
    (models.LotCreate, "parent_lots", "lots.code"),
]


def _max_length(prop: dict) -> int | None:
    """The longest string a JSON schema property admits (None: unbounded)."""
    if "items" in prop:
        return _max_length(prop["items"])
    if "anyOf" in prop:
        lengths = [_max_length(p) for p in prop["anyOf"] if p.get("type") != "null"]
        return None if None in lengths else max(lengths)
    if "enum" in prop:  # a closed list of values: its longest one
        return max(len(str(v)) for v in prop["enum"])
    return prop.get("maxLength")


def _column_length(dotted: str) -> int:
    table, column = dotted.split(".")
    return SQLModel.metadata.tables[table].columns[column].type.length


def _sized_columns(table: str) -> list[tuple[str, int]]:
    # An enumeration's values bound it already, on both sides.
    columns = SQLModel.metadata.tables[table].columns
    return [
        (c.name, c.type.length)
        for c in columns
        if getattr(c.type, "length", None) and not isinstance(c.type, Enum)
    ]


def test_every_table_is_known():
    assert set(SQLModel.metadata.tables) == set(WRITTEN_BY) | NOT_WRITTEN_BY_A_REQUEST


@pytest.mark.parametrize("table", sorted(WRITTEN_BY))
def test_request_text_fits_its_column(table):
    props = WRITTEN_BY[table].model_json_schema()["properties"]
    compared = []
    for name, length in _sized_columns(table):
        if name not in props:
            continue  # set by the service, not by the client
        limit = _max_length(props[name])
        assert limit is not None, f"{table}.{name} holds {length} characters; the API sets no limit"
        assert limit <= length, f"{table}.{name} holds {length} characters; the API takes {limit}"
        compared.append(name)
    assert compared, f"no sized column of {table} is filled from {WRITTEN_BY[table].__name__}"


@pytest.mark.parametrize(("schema", "name", "column"), REFERENCES)
def test_codes_naming_other_rows_fit_their_column(schema, name, column):
    limit = _max_length(schema.model_json_schema()["properties"][name])
    assert limit is not None and limit <= _column_length(column), (schema.__name__, name, limit)


# ---------------------------------------------------------------- text every request may send

# Every request schema whose text reaches the database, the drones' contract included.
TEXT_SCHEMAS = [
    *WRITTEN_BY.values(),
    models.OrganisationUpdate,
    contract.MissionStartIn,
    contract.MissionEndIn,
    contract.TelemetryIn,
    contract.StatusIn,
]


def _is_text(prop: dict) -> bool:
    """Whether a JSON schema property is free text (not a date, an enumeration or a list)."""
    options = prop.get("anyOf", [prop])
    return any(p.get("type") == "string" and "format" not in p and "enum" not in p for p in options)


TEXT_FIELDS = [
    (schema, name)
    for schema in TEXT_SCHEMAS
    for name, prop in schema.model_json_schema()["properties"].items()
    if _is_text(prop)
]


def _field(schema: type[BaseModel], name: str) -> TypeAdapter:
    info = schema.model_fields[name]
    if not info.metadata:
        return TypeAdapter(info.annotation)
    return TypeAdapter(Annotated[info.annotation, *info.metadata])


def test_the_text_fields_are_found():
    names = {(s.__name__, n) for s, n in TEXT_FIELDS}
    assert {("FarmerCreate", "name"), ("ZoneProperties", "kind")} <= names
    assert ("MissionStartIn", "operator_id") in names and ("LotCreate", "product_name") in names
    assert len(TEXT_FIELDS) > 40


@pytest.mark.parametrize(
    ("schema", "name"), TEXT_FIELDS, ids=[f"{s.__name__}.{n}" for s, n in TEXT_FIELDS]
)
@pytest.mark.parametrize(
    "bad", ["A\x00B", "A\x07B", "A\x85B", "A\u202eB", "A\u202aB", "A\u2066B", "A\u2069B"]
)
def test_no_request_text_holds_a_control_or_a_bidi_override(schema, name, bad):
    """One rule on both backends: SQLite would store NUL where PostgreSQL refuses it."""
    with pytest.raises(ValidationError):
        _field(schema, name).validate_python(bad)


NAME_FIELDS = [
    (models.FarmerCreate, "name"),
    (models.FarmerCreate, "village"),
    (models.FieldProperties, "name"),
    (models.OrganisationCreate, "name"),
    (models.OrganisationUpdate, "brand"),
    (models.InputProductCreate, "name"),
    (models.LotCreate, "product_name"),
    (models.LotCreate, "brand"),
    (models.UserCreate, "name"),
    (models.DroneCreate, "operator"),
    (models.ZoneProperties, "kind"),
    (models.ZoneProperties, "name"),
    (contract.MissionStartIn, "operator_id"),
]


@pytest.mark.parametrize(("schema", "name"), NAME_FIELDS)
@pytest.mark.parametrize(
    "blank",
    # zero-width space, zero-width joiner, word joiner, Hangul filler, a lone combining
    # acute, a byte order mark, a blank braille cell
    ["\u200b", "\u200d", " \u2060 ", "\u3164", "\u0301", "\ufeff", "\u2800\u200b"],
)
def test_a_name_with_nothing_visible_is_refused(schema, name, blank):
    with pytest.raises(ValidationError, match="visible character"):
        _field(schema, name).validate_python(blank)


@pytest.mark.parametrize(("schema", "name"), NAME_FIELDS)
def test_vietnamese_names_pass_in_nfc(schema, name):
    check = _field(schema, name)
    for text in ("Nguyễn Thị Ánh", "Hợp tác xã Phước Long", "Lúa ST25", "Ấp 3 — Giá Rai"):
        assert check.validate_python(unicodedata.normalize("NFD", text)) == text
