"""Reports as files: JSON, CSV and XLSX, times in Vietnam time. No web imports.

- JSON: ``{"data": [...], "count": N}`` (INTERFACE.md), times as ISO 8601 with ``+07:00``.
- CSV: UTF-8 with a byte-order mark, so Excel opens Vietnamese text as it is; a text
  cell that a spreadsheet would take for a formula (it starts with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return) gets a leading ``'`` (OWASP, CSV injection).
- XLSX: one sheet, a bold header row kept in view, columns as wide as their contents,
  times as Vietnam wall-clock time (Excel has no time zones). Text is written as typed
  text cells, which a spreadsheet shows and never evaluates, so a product named
  ``=1+1`` reads back exactly as it was registered.
"""

import io
from typing import Any, Literal

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


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with a BOM, times in Vietnam time, formula-looking text escaped."""
    rows = pd.DataFrame(_cells(frame), columns=frame.columns)
    rows = rows.apply(lambda column: column.map(escape_formula))
    return rows.to_csv(index=False).encode("utf-8-sig")


def to_xlsx(frame: pd.DataFrame, *, title: str = "report") -> bytes:
    """An XLSX workbook of one sheet: header frozen, readable widths, Vietnam times."""
    frame = in_vietnam_time(frame)
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
            _write(sheet.cell(row=r, column=c), value)
            widths[c - 1] = max(widths[c - 1], len(_shown(value)))
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = min(width + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _write(cell: Any, value: Any) -> None:
    if isinstance(value, pd.Timestamp):
        cell.value = value.to_pydatetime()
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    elif isinstance(value, str):
        cell.value = value
        # openpyxl takes a string starting with "=" for a formula: say it is text.
        cell.data_type = "s"
    else:
        cell.value = value.item() if hasattr(value, "item") else value


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
