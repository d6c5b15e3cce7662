"""Log output for the long-running processes: plain text for people, JSON lines for machines.

``agritrace serve`` and ``agritrace ingest`` take ``--log-format json`` (or
``AGRITRACE_LOG_FORMAT=json``): each record is then one JSON object on one line with
``time`` (UTC, RFC 3339), ``level``, ``logger`` and ``message``, plus the context a call
gave through ``extra=`` (``drone``, ``topic``, ``reason``, ...), which a log collector can
filter on without parsing sentences.
"""

import logging
import sys
from datetime import UTC, datetime

import orjson

FORMATS = ("text", "json")

# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the ``extra`` context.

    >>> record = logging.LogRecord("ingest", logging.WARNING, "", 0, "bad %s", ("x",), None)
    >>> record.drone = "BL-DR-001"
    >>> line = orjson.loads(JsonFormatter().format(record))
    >>> line["level"], line["logger"], line["message"], line["drone"]
    ('warning', 'ingest', 'bad x', 'BL-DR-001')
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send the root logger's records to stderr as ``fmt`` ("text" or "json")."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be text or json, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def uvicorn_log_config(fmt: str) -> dict:
    """A uvicorn ``log_config`` that writes its own records (access log too) as ``fmt``."""
    formatter = (
        {"()": f"{__name__}.JsonFormatter"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"level": "INFO"},
            "uvicorn.access": {"level": "INFO"},
            "alembic": {"level": "WARNING"},
        },
    }
