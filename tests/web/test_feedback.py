"""POST /cds-services/{id}/feedback: validated per the spec, stored durably and idempotently."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.settings import Settings
from cds_service.store.sqlite import SqliteAuditStore
from tests.conftest import SERVICE_URL

FEEDBACK_URL = f"{SERVICE_URL}/feedback"


def _accepted(card: str | None = None) -> dict[str, Any]:
    return {
        "card": card or str(uuid.uuid4()),
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": str(uuid.uuid4())}],
        "outcomeTimestamp": "2026-11-27T14:59:57.349Z",
    }


def _overridden(card: str | None = None, reason: str | None = "already-held") -> dict[str, Any]:
    item: dict[str, Any] = {
        "card": card or str(uuid.uuid4()),
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-27T15:00:01Z",
    }
    if reason:
        item["overrideReason"] = {"reason": {"code": reason, "system": "http://example.org/r"}}
    return item


def _report(settings: Settings) -> list[Any]:
    async def read() -> list[Any]:
        store = SqliteAuditStore.open(settings.effective_database_url)
        try:
            return await store.feedback_report()
        finally:
            await store.close()

    return asyncio.run(read())


def test_feedback_when_accepted_with_suggestions_is_stored(
    client: TestClient, settings: Settings
) -> None:
    response = client.post(FEEDBACK_URL, json={"feedback": [_accepted()]})
    assert response.status_code == 200
    assert sum(row.accepted for row in _report(settings)) == 1


def test_feedback_when_overridden_with_or_without_reason_is_stored(
    client: TestClient, settings: Settings
) -> None:
    body = {"feedback": [_overridden(), _overridden(reason=None)]}
    assert client.post(FEEDBACK_URL, json=body).status_code == 200
    rows = _report(settings)
    assert sum(row.overridden for row in rows) == 2
    reasons = dict(reason for row in rows for reason in row.override_reasons)
    assert reasons == {"already-held": 1, "(none given)": 1}


def test_feedback_when_posted_twice_counts_once(client: TestClient, settings: Settings) -> None:
    body = {"feedback": [_accepted(card="card-1"), _overridden(card="card-2")]}
    assert client.post(FEEDBACK_URL, json=body).status_code == 200
    assert client.post(FEEDBACK_URL, json=body).status_code == 200
    rows = _report(settings)
    assert sum(row.accepted for row in rows) == 1
    assert sum(row.overridden for row in rows) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"acceptedSuggestions": None}, "feedback.0"),
        ({"outcome": "ignored"}, "feedback.0.outcome"),
        ({"outcomeTimestamp": "yesterday"}, "feedback.0.outcomeTimestamp"),
        ({"outcomeTimestamp": "2026-11-27"}, "feedback.0.outcomeTimestamp"),
        ({"card": ""}, "feedback.0.card"),
    ],
)
def test_feedback_when_breaking_the_spec_answers_400_naming_the_field(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    item = {k: v for k, v in {**_accepted(), **change}.items() if v is not None}
    response = client.post(FEEDBACK_URL, json={"feedback": [item]})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [field]


def test_feedback_when_no_items_answers_400(client: TestClient) -> None:
    assert client.post(FEEDBACK_URL, json={"feedback": []}).status_code == 400
    assert client.post(FEEDBACK_URL, json={}).status_code == 400


def test_feedback_when_service_unknown_answers_404(client: TestClient) -> None:
    response = client.post("/cds-services/nope/feedback", json={"feedback": [_accepted()]})
    assert response.status_code == 404


def test_feedback_when_json_malformed_answers_400(client: TestClient) -> None:
    response = client.post(FEEDBACK_URL, content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_feedback_card_dismissed_twice_counts_as_one_card(
    client: TestClient, settings: Settings
) -> None:
    first = _overridden(card="card-1")
    again = {**first, "outcomeTimestamp": "2026-11-27T15:05:00Z"}
    assert client.post(FEEDBACK_URL, json={"feedback": [first, again]}).status_code == 200
    rows = _report(settings)
    assert sum(row.overridden for row in rows) == 1
    assert dict(reason for row in rows for reason in row.override_reasons) == {"already-held": 1}
