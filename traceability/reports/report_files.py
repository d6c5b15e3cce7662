"""Reports as files: JSON, CSV and XLSX, times in Vietnam time. No web imports.

- JSON: ``{"data": [...], "count": N}`` (INTERFACE.md), times as ISO 8601 with ``+07:00``,
  numbers as computed, a missing value ``null``.
- CSV: UTF-8 with a byte-order mark, so Excel opens Vietnamese text as it is; a text
  cell that a spreadsheet would take for a formula (it starts with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return) gets a leading ``'`` (OWASP, CSV injection).
- XLSX: one sheet, a bold header row kept in view, columns as wide as their contents,
  times as Vietnam wall-clock time (Excel has no time zones). Text is written as typed
  text cells, which a spreadsheet shows and never evaluates, so a product named
  ``=1+1`` reads back exactly as it was registered. Numbers are number cells with a
  number format of their column's decimals.
- On screen (:func:`to_text`, the command line without ``--format``): a missing value
  is ``—``, never ``NaN`` or ``<NA>``.

In CSV, XLSX and on screen a number keeps the decimals of its column
(:func:`decimals`): hectares 4 (a square metre), kilograms, litres and amounts 3 (a
gram, a millilitre), doses and rates per hectare or per hour 3, percentages 2,
longitude and latitude 6 (about 0.1 m), hours 4, days 0; any other number 6. JSON keeps
the figures as computed, for programs that sum them.

A product's ``registration_no`` that the catalogue does not hold reads
``chưa có / not recorded`` in CSV, XLSX and on screen (``null`` in JSON): Vietnam's
published lists of permitted pesticides (the annexes of Circulars 09/2009/TT-BNN and
10/2012/TT-BNNPTNT) give a product's HS code, active ingredient, trade name, crop and
pest, and registrant, but no registration number, so a catalogue built from them has
none until one is typed in from the product's own registration certificate.
"""

import io
import math
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from traceability.reports.common import VIETNAM

Format = Literal["json", "csv", "xlsx"]
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Decimals a number keeps in CSV, XLSX and on screen: a column by its name, else by how
# its name ends (``_per_ha`` before ``_ha``), else DEFAULT_DECIMALS.
DECIMALS_BY_NAME = {"lon": 6, "lat": 6, "ha_per_hour": 3, "amount": 3}
DECIMALS_BY_ENDING = (
    ("_pct", 2),
    ("_per_ha", 3),
    ("_ha", 4),
    ("_amount", 3),
    ("_kg", 3),
    ("_l", 3),
    ("_hours", 4),
    ("_days", 0),
)
DEFAULT_DECIMALS = 6
# Shown for a missing value on screen, and for a missing value that an inspector must
# see is missing (not an empty cell) in CSV and XLSX.
MISSING = "—"
NOT_RECORDED = {"registration_no": "chưa có / not recorded"}
# Wider than this a column wraps on screen anyway; it only pushes the others away.
MAX_WIDTH = 60


def escape_formula(value: Any) -> Any:
    """Text that a spreadsheet would evaluate, made plain text with a leading ``'``.

    >>> [escape_formula(v) for v in ("=HYPERLINK(1)", "-2", "Bạc Liêu", -2)]
    ["'=HYPERLINK(1)", "'-2", 'Bạc Liêu', -2]
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def decimals(column: str) -> int:
    """The decimals a number in ``column`` keeps in CSV, XLSX and on screen.

    >>> [decimals(c) for c in ("treated_area_ha", "dose_per_ha", "product_l", "amount")]
    [4, 3, 3, 3]
    >>> [decimals(c) for c in ("spraying_pct", "lat", "phi_days", "ha_per_hour", "other")]
    [2, 6, 0, 3, 6]
    """
    if column in DECIMALS_BY_NAME:
        return DECIMALS_BY_NAME[column]
    return next((n for end, n in DECIMALS_BY_ENDING if column.endswith(end)), DEFAULT_DECIMALS)


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each number rounded to its column's :func:`decimals` (whole numbers
    for 0), so a sum's float noise (``7.504899999999999``) never reaches a reader."""
    frame = frame.copy()
    for column in frame.columns:
        places = decimals(str(column))
        values = frame[column]
        if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values):
            if values.dtype == object:
                frame[column] = values.map(lambda v, n=places: _round(v, n))
            continue
        if pd.api.types.is_float_dtype(values.dtype):
            values = values.round(places)
            frame[column] = values.astype("Int64") if places == 0 else values
    return frame


def _round(value: Any, places: int) -> Any:
    if isinstance(value, float | np.floating) and math.isfinite(value):
        return int(round(value)) if places == 0 else round(float(value), places)
    return value


def _datetime_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]


def in_vietnam_time(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its timestamp columns converted to Vietnam time (UTC+7)."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(_is_aware).any():
            frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in _datetime_columns(frame):
        frame[column] = frame[column].dt.tz_convert(VIETNAM)
    return frame


def _is_aware(value: Any) -> bool:
    return getattr(value, "tzinfo", None) is not None


def _cells(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values: None for missing, ISO strings for times."""
    frame = in_vietnam_time(frame)
    out = frame.astype(object).where(frame.notna(), None)
    for column in _datetime_columns(frame):
        out[column] = [t.isoformat() if t is not None else None for t in out[column]]
    return out.to_dict("records")


def to_json(frame: pd.DataFrame) -> bytes:
    """``{"data": [...], "count": N}``."""
    rows = _cells(frame)
    return orjson.dumps({"data": rows, "count": len(rows)}, option=orjson.OPT_SERIALIZE_NUMPY)


def _for_readers(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a reader gets it: numbers rounded, a missing registration said."""
    return _not_recorded(rounded(frame))


def _not_recorded(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column, word in NOT_RECORDED.items():
        if column in frame.columns:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), word)
    return frame


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with a BOM, times in Vietnam time, numbers rounded per column,
    formula-looking text escaped."""
    # Escaped cell by cell before pandas sees them: a column of counts with a gap stays
    # counts ("2", not "2.0").
    rows = _cells(_for_readers(frame))
    cells = [{k: escape_formula(v) for k, v in row.items()} for row in rows]
    rows = pd.DataFrame(cells, columns=frame.columns, dtype=object)
    return rows.to_csv(index=False).encode("utf-8-sig")


def to_text(frame: pd.DataFrame) -> str:
    """The report as a table for a terminal: Vietnam times, numbers rounded per column,
    ``—`` where a value is missing."""
    if frame.empty:
        return "(no rows)"
    rows = _cells(_for_readers(frame))
    cells = [{k: MISSING if v is None else v for k, v in row.items()} for row in rows]
    return pd.DataFrame(cells, columns=frame.columns, dtype=object).to_string(index=False)


def to_xlsx(frame: pd.DataFrame, *, title: str = "report") -> bytes:
    """An XLSX workbook of one sheet: header frozen, readable widths, Vietnam times,
    numbers rounded per column and formatted with its decimals."""
    frame = _for_readers(in_vietnam_time(frame))
    formats = [_number_format(frame[c], str(c)) for c in frame.columns]
    for column in _datetime_columns(frame):
        frame[column] = frame[column].dt.tz_localize(None)
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([str(c) for c in frame.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(str(c)) for c in frame.columns]
    values = frame.astype(object).where(frame.notna(), None)
    for r, row in enumerate(values.itertuples(index=False), start=2):
        for c, value in enumerate(row, start=1):
            _write(sheet.cell(row=r, column=c), value, formats[c - 1])
            widths[c - 1] = max(widths[c - 1], len(_shown(value)))
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = min(width + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _number_format(values: pd.Series, column: str) -> str:
    """Excel's number format for a column: its decimals for fractions, "0" for counts."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return "General"
    if pd.api.types.is_integer_dtype(values.dtype):
        return "0"
    places = decimals(column)
    return "0" if places == 0 else "0." + "0" * places


def _write(cell: Any, value: Any, number_format: str = "General") -> None:
    if isinstance(value, bool | np.bool_):
        cell.value = bool(value)
    elif isinstance(value, pd.Timestamp):
        cell.value = value.to_pydatetime()
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    elif isinstance(value, str):
        cell.value = value
        # openpyxl takes a string starting with "=" for a formula: say it is text.
        cell.data_type = "s"
    else:
        cell.value = value.item() if hasattr(value, "item") else value
        if isinstance(cell.value, int | float):
            cell.number_format = number_format


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, pd.Timestamp):
        return "yyyy-mm-dd hh:mm:ss"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


WRITERS = {"json": to_json, "csv": to_csv, "xlsx": to_xlsx}


def render(frame: pd.DataFrame, fmt: Format, *, name: str = "report") -> bytes:
    """The report ``frame`` in ``fmt``."""
    if fmt == "xlsx":
        return to_xlsx(frame, title=name)
    return WRITERS[fmt](frame)
