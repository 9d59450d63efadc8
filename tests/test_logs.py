"""Structured logs: one JSON object per line, the hookInstance as correlation id, no patient data."""

from __future__ import annotations

import json
import logging

from cds_service.logs import JsonFormatter, correlation


def _format(record: logging.LogRecord) -> dict[str, object]:
    return json.loads(JsonFormatter().format(record))


def test_log_line_when_inside_a_correlation_block_carries_the_hook_instance() -> None:
    record = logging.makeLogRecord(
        {"name": "cds_service.test", "msg": "evaluated", "levelname": "INFO"}
    )
    with correlation("hi-123"):
        line = _format(record)
    assert line["hookInstance"] == "hi-123"
    assert line["message"] == "evaluated"
    assert line["level"] == "INFO"


def test_log_line_when_outside_a_correlation_block_has_no_hook_instance() -> None:
    record = logging.makeLogRecord({"name": "x", "msg": "start", "levelname": "INFO"})
    assert "hookInstance" not in _format(record)


def test_log_line_when_extra_fields_given_emits_them_as_json_fields() -> None:
    record = logging.makeLogRecord({"name": "x", "msg": "m", "outcome": "cards", "cards": 2})
    line = _format(record)
    assert line["outcome"] == "cards"
    assert line["cards"] == 2


def test_log_line_when_exception_logged_names_type_and_stack_not_message() -> None:
    patient = "-".join(["Patient/secret", "123"])
    try:
        raise ValueError(f"{patient} could not be parsed")
    except ValueError as exc:
        record = logging.makeLogRecord(
            {"name": "x", "msg": "failed", "exc_info": (type(exc), exc, exc.__traceback__)}
        )
    line = _format(record)
    assert line["exception"] == "ValueError"
    assert "secret-123" not in json.dumps(line)
    assert "tests/test_logs.py" in str(line["stack"])


def test_json_formatter_keeps_any_extra_it_cannot_encode_fast_as_valid_json() -> None:
    record = logging.makeLogRecord(
        {"msg": "evaluated", "name": "cds_service.service", "levelname": "INFO"}
    )
    record.__dict__.update({"cards": 2**70, "where": "Zürich", "kinds": {3: "a"}})
    entry = json.loads(JsonFormatter().format(record))
    assert entry["cards"] == 2**70  # beyond 64 bits: written by the slower encoder
    assert entry["where"] == "Zürich"
    record.__dict__["cards"] = 2
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["cards"], entry["where"], entry["kinds"]) == (2, "Zürich", {"3": "a"})


def test_json_formatter_writes_a_dataclass_or_datetime_extra_as_its_text_never_its_fields() -> None:
    from dataclasses import dataclass, field
    from datetime import UTC, datetime

    @dataclass
    class Token:
        user: str
        secret: str = field(repr=False)

    record = logging.makeLogRecord({"msg": "m", "name": "x", "levelname": "INFO"})
    record.__dict__.update(
        {"who": Token("u", "SECRET"), "at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)}
    )
    line = JsonFormatter().format(record)
    assert "SECRET" not in line  # orjson alone would write every field, repr=False ones too
    entry = json.loads(line)
    assert str(entry["who"]).endswith("Token(user='u')")
    assert entry["at"] == "2026-01-02 03:04:00+00:00"
