"""The log sweep: it recognises secrets, and the records of this session so far hold none."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.hardening import logsweep
from tests.hardening.harness import (
    PATIENT_ID,
    SERVICE_PATH,
    hardening_settings,
    hook_body,
    running_app,
)

FAKE_JWT = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJodHRwczovL2VociJ9.c2lnbmF0dXJl"


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("cds_service.x", logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (_record("token %s", FAKE_JWT), "jwt"),
        (_record("calling FHIR", authorization="Bearer abcdefgh12345"), "bearer"),
        (_record("fhir auth failed", token="test-secret-token-42"), "access-token"),
        (_record("patient %s", PATIENT_ID), "identifier"),
    ],
)
def test_secret_kind_when_record_carries_secret_names_its_kind(
    record: logging.LogRecord, kind: str
) -> None:
    text = logsweep.record_text(record)

    assert logsweep.secret_kind(text, [PATIENT_ID]) == kind


def test_secret_kind_when_secret_only_in_exception_message_still_finds_it() -> None:
    try:
        raise ValueError(f"bad reference Patient/{PATIENT_ID}")
    except ValueError as exc:
        record = _record("evaluation failed")
        record.exc_info = (type(exc), exc, exc.__traceback__)

    assert logsweep.secret_kind(logsweep.record_text(record), [PATIENT_ID]) == "identifier"


def test_secret_kind_when_record_clean_finds_nothing() -> None:
    record = _record("authentication failed", reason="expired", iss="https://ehr", jti="j-1")

    assert logsweep.secret_kind(logsweep.record_text(record), [PATIENT_ID]) is None


def test_harvested_secrets_when_test_modules_define_patient_ids_includes_them() -> None:
    assert PATIENT_ID in logsweep.harvested_secrets()


def test_sweep_when_app_served_hook_and_auth_failures_logs_no_secret(tmp_path: Path) -> None:
    sweep = logsweep.current_sweep()
    start = len(sweep.records)
    settings = hardening_settings(
        tmp_path,
        auth="jwt",
        trusted_issuers={"https://ehr.example": {"jwks_url": "https://ehr.example/jwks"}},
    )
    with running_app(settings) as send:
        send(
            "POST", SERVICE_PATH, json=hook_body(), headers={"Authorization": f"Bearer {FAKE_JWT}"}
        )
    with running_app(hardening_settings(tmp_path / "open")) as send:
        send("POST", SERVICE_PATH, json=hook_body())
    recent = logsweep.LogSweep(records=sweep.records[start:])

    assert len(recent.records) >= 2  # the 401 and the evaluation were both logged
    assert recent.leaks(logsweep.harvested_secrets()) == []


def test_sweep_when_session_so_far_logged_no_secret() -> None:
    # The plugin checks the whole session again at its end; this catches leaks early and by test.
    leaks = logsweep.current_sweep().leaks(logsweep.harvested_secrets())

    assert leaks == []
