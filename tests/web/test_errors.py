"""Every rejected call gets the right status and an OperationOutcome naming the problem; never a 500."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import SERVICE_URL, make_app, make_settings
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order


def _issue(response_json: dict) -> dict:
    assert response_json["resourceType"] == "OperationOutcome"
    return response_json["issue"][0]


def test_hook_call_when_json_malformed_answers_400_with_outcome(client: TestClient) -> None:
    response = client.post(
        SERVICE_URL, content=b'{"hook": "order-sign",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "Malformed JSON" in _issue(response.json())["diagnostics"]


@pytest.mark.parametrize(
    ("remove", "field"),
    [
        ("hookInstance", "hookInstance"),
        ("context.patientId", "context.patientId"),
        ("context.userId", "context.userId"),
        ("context.draftOrders", "context.draftOrders"),
        ("context", "context"),
        ("hook", "hook"),
    ],
)
def test_hook_call_when_required_field_missing_answers_400_naming_it(
    client: TestClient, remove: str, field: str
) -> None:
    body = hook_request(ketamine_order())
    parts = remove.split(".")
    target = body
    for part in parts[:-1]:
        target = target[part]
    del target[parts[-1]]
    response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 400
    issue = _issue(response.json())
    assert field in issue["diagnostics"]
    assert issue["expression"] == [field]


def test_order_select_when_selections_missing_answers_400_naming_it(client: TestClient) -> None:
    body = hook_request(ketamine_order(), hook="order-select")
    del body["context"]["selections"]
    response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 400
    assert _issue(response.json())["expression"] == ["context.selections"]


def test_hook_call_when_hook_not_served_answers_400(client: TestClient) -> None:
    body = hook_request(ketamine_order(), hook="patient-view")
    response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 400
    issue = _issue(response.json())
    assert issue["code"] == "not-supported"
    assert "patient-view" in issue["diagnostics"]


def test_hook_call_when_service_unknown_answers_404(client: TestClient) -> None:
    response = client.post("/cds-services/no-such-service", json=hook_request(ketamine_order()))
    assert response.status_code == 404
    assert _issue(response.json())["code"] == "not-found"


def test_hook_call_when_body_over_the_limit_answers_413_and_closes_the_connection(tmp_path) -> None:
    app = make_app(make_settings(tmp_path, max_body_bytes=2_000))
    body = hook_request(ketamine_order(), medications=tuple([CLONAZEPAM] * 20))
    with TestClient(app) as client:
        response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 413
    assert "2000 bytes" in _issue(response.json())["diagnostics"]
    assert response.headers["connection"] == "close"  # the unread rest would be the next request


def test_hook_call_when_content_type_not_json_answers_415(client: TestClient) -> None:
    response = client.post(
        SERVICE_URL,
        content=json.dumps(hook_request(ketamine_order())),
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 415
    assert "text/plain" in _issue(response.json())["diagnostics"]
    assert "connection" not in response.headers  # a whole, well-formed request: keep-alive stays


def test_hook_call_when_nested_past_the_limit_answers_413(client: TestClient) -> None:
    body = hook_request(ketamine_order())
    deep: dict = {}
    node = deep
    for _ in range(200):
        node["x"] = {}
        node = node["x"]
    body["context"]["extra"] = deep
    response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 413
    assert "nesting" in _issue(response.json())["diagnostics"]


def test_hook_call_when_no_medication_source_answers_412(client: TestClient) -> None:
    body = hook_request(ketamine_order(), prefetch={})
    response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 412
    assert _issue(response.json())["diagnostics"]


def test_hook_call_when_no_data_in_card_mode_answers_a_data_gap_card(
    tmp_path,
) -> None:
    app = make_app(make_settings(tmp_path, on_data_unavailable="card"))
    with TestClient(app) as client:
        response = client.post(SERVICE_URL, json=hook_request(ketamine_order(), prefetch={}))
    assert response.status_code == 200
    cards = response.json()["cards"]
    assert [card["source"]["topic"]["code"] for card in cards] == ["DATAGAP"]
    assert cards[0]["indicator"] == "warning"


def test_hook_call_when_unexpected_error_answers_500_without_internals(
    app: FastAPI, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("cds_service.service.evaluate", explode)
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 500
    assert "secret internal detail" not in response.text
    assert _issue(response.json())["code"] == "exception"
    records = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert records
    assert any(getattr(r, "hook_instance", None) == body["hookInstance"] for r in records)


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
def test_hook_call_media_type_is_matched_case_insensitively(
    client: TestClient, content_type: str
) -> None:
    body = json.dumps(hook_request(ketamine_order(), medications=(CLONAZEPAM,)))
    response = client.post(SERVICE_URL, content=body, headers={"content-type": content_type})
    assert response.status_code == 200
