"""Store faults over HTTP: feedback is stored or refused with 503, cards are served regardless."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.settings import Settings
from tests.conftest import SERVICE_URL, make_app, make_settings
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order

FEEDBACK_URL = f"{SERVICE_URL}/feedback"
PATIENT_NAME = "Jane Q Webpatient"


def _feedback(when: str = "2026-11-27T15:00:01Z", **reason: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"card": "card-1", "outcome": "overridden", "outcomeTimestamp": when}
    if reason:
        item["overrideReason"] = {"reason": reason, "userComment": PATIENT_NAME}
    return {"feedback": [item]}


def _db_path(settings: Settings) -> Path:
    return Path(settings.effective_database_url.removeprefix("sqlite:///"))


def _hook_call() -> dict[str, Any]:
    return hook_request(ketamine_order(), medications=(CLONAZEPAM,))


def test_ready_when_knowledge_base_and_store_are_usable_is_200(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"knowledgeBase": "ok", "store": "ok"}}


def test_feedback_after_the_database_file_was_deleted_is_503_never_200(
    client: TestClient, settings: Settings
) -> None:
    assert client.post(FEEDBACK_URL, json=_feedback()).status_code == 200
    os.remove(_db_path(settings))
    refused = client.post(FEEDBACK_URL, json=_feedback("2026-11-27T16:00:00Z"))
    assert refused.status_code == 503
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert refused.json()["issue"][0]["code"] == "transient"
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["store"] == "the database file was deleted or replaced"
    assert client.get("/health").status_code == 200
    cards = client.post(SERVICE_URL, json=_hook_call())
    assert cards.status_code == 200
    assert cards.json()["cards"]


def test_feedback_behind_a_lock_held_elsewhere_is_503_after_the_bounded_wait(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, store_timeout_seconds=0.05)
    with TestClient(make_app(settings)) as client:
        other = sqlite3.connect(_db_path(settings), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            refused = client.post(FEEDBACK_URL, json=_feedback())
        finally:
            other.execute("ROLLBACK")
            other.close()
        stored = client.post(FEEDBACK_URL, json=_feedback())
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert stored.status_code == 200


def test_service_whose_store_cannot_be_opened_starts_degraded_and_serves_cards(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    settings = make_settings(tmp_path, data_dir=blocker / "data")
    with TestClient(make_app(settings)) as client:
        cards = client.post(SERVICE_URL, json=_hook_call())
        feedback = client.post(FEEDBACK_URL, json=_feedback())
        ready = client.get("/ready")
    assert cards.status_code == 200
    assert cards.json()["cards"]
    assert feedback.status_code == 503
    assert ready.status_code == 503
    opened = [r for r in caplog.records if r.getMessage().startswith("store unavailable at start")]
    assert [r.levelno for r in opened] == [logging.ERROR]
    assert opened[0].__dict__["reason"] == "Not a directory"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_feedback_at_an_instant_outside_utc_years_is_400_naming_the_field(
    client: TestClient, when: str
) -> None:
    response = client.post(FEEDBACK_URL, json=_feedback(when))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["feedback[0].outcomeTimestamp"]


def test_feedback_override_display_and_comment_never_reach_the_database(
    client: TestClient, settings: Settings
) -> None:
    body = _feedback(code="benefit", system="http://example.org/r", display=PATIENT_NAME)
    assert client.post(FEEDBACK_URL, json=body).status_code == 200
    raw = b"".join(p.read_bytes() for p in _db_path(settings).parent.iterdir() if p.is_file())
    assert b"benefit" in raw
    assert PATIENT_NAME.encode() not in raw
