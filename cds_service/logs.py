"""Structured (JSON) logging with the hookInstance as correlation id. Never log tokens or patient data."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)
_hook_instance: ContextVar[str | None] = ContextVar("hook_instance", default=None)

# Attributes every LogRecord has; anything else passed with ``extra=`` is emitted as a field.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


@contextmanager
def correlation(hook_instance: str | None) -> Iterator[None]:
    """Tag every log line inside the block with this hookInstance."""
    token = _hook_instance.set(hook_instance)
    try:
        yield
    finally:
        _hook_instance.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, hookInstance and explicit extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        hook_instance = _hook_instance.get() or record.__dict__.get("hook_instance")
        if hook_instance:
            entry["hookInstance"] = hook_instance
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key != "hook_instance" and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type and the stack only: messages of third-party errors may quote request data.
            entry["exception"] = record.exc_info[0].__name__
            entry["stack"] = "".join(traceback.format_tb(record.exc_info[2]))
        try:  # orjson: a tenth of json's time, and every call logs twice
            # Dataclasses and datetimes go through str() as with json: orjson would write every
            # field of a dataclass, repr=False ones included.
            return orjson.dumps(entry, default=str, option=_OPTIONS).decode()
        except TypeError:  # orjson.JSONEncodeError: e.g. an int beyond 64 bits
            return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    """Send the service's logs to stderr as JSON lines (idempotent)."""
    root = logging.getLogger("cds_service")
    root.setLevel(level.upper())
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.propagate = True
    # httpx logs every request URL at INFO; our FHIR search URLs carry the patient id.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's own loggers as JSON lines too: a server error is its type and frames, no message."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "cds_service.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
