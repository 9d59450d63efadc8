"""GET /cds-services: one id per hook, each listed once; the legacy id answers unlisted; 2.0.1 prefetch."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_app, make_settings
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order

ROOT_TOKEN = re.compile(r"\{\{context\.(patientId|userId|encounterId)\}\}")


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *[item for v in value.values() for item in _walk(v)]]
    if isinstance(value, list):
        return [value, *[item for v in value for item in _walk(v)]]
    return [value]


def test_discovery_lists_each_hook_under_its_own_id_once(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    assert sorted((s["hook"], s["id"]) for s in services) == [
        ("appointment-book", "ketamine-infusion-appointment-book"),
        ("encounter-start", "ketamine-infusion-encounter-start"),
        ("order-select", "ketamine-infusion-order-select"),
        ("order-sign", "ketamine-infusion-order-sign"),
        ("patient-view", "ketamine-infusion-patient-view"),
    ]
    assert len({s["title"] for s in services}) == len(services)
    for service in services:
        assert "ketamine" in service["description"].lower()
        assert service["hook"] in service["usageRequirements"]


def test_discovery_does_not_list_the_legacy_id(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    assert "ketamine-infusion-check" not in {s["id"] for s in services}


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_each_listed_id_answers_its_own_hook(client: TestClient, hook: str) -> None:
    body = hook_request(ketamine_order(), hook=hook, medications=(CLONAZEPAM,))
    response = client.post(f"/cds-services/ketamine-infusion-{hook}", json=body)
    assert response.status_code == 200
    assert [c["source"]["topic"]["code"] for c in response.json()["cards"]] == ["BZD"]


def test_a_listed_id_refuses_another_hook_naming_where_it_is_served(client: TestClient) -> None:
    body = hook_request(ketamine_order(), hook="order-select", medications=(CLONAZEPAM,))
    response = client.post("/cds-services/ketamine-infusion-order-sign", json=body)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["code"] == "not-supported"
    assert "/cds-services/ketamine-infusion-order-select" in issue["diagnostics"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign", "medication-prescribe"])
def test_legacy_id_still_answers_every_order_hook(client: TestClient, hook: str) -> None:
    body = hook_request(ketamine_order(), hook=hook, medications=(CLONAZEPAM,))
    if hook == "medication-prescribe":
        body["context"]["medications"] = body["context"].pop("draftOrders")
    response = client.post("/cds-services/ketamine-infusion-check", json=body)
    assert response.status_code == 200
    assert len(response.json()["cards"]) == 1


def test_legacy_id_follows_the_configured_service_id(tmp_path) -> None:
    app = make_app(make_settings(tmp_path, service_id="old-ketamine"))
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    with TestClient(app) as client:
        assert client.post("/cds-services/old-ketamine", json=body).status_code == 200
        assert client.post("/cds-services/ketamine-infusion-check", json=body).status_code == 404


def test_discovery_prefetch_templates_use_only_root_level_context_tokens(
    client: TestClient,
) -> None:
    for service in client.get("/cds-services").json()["services"]:
        for template in service["prefetch"].values():
            tokens = re.findall(r"\{\{[^}]*\}\}", template)
            assert tokens, template
            assert all(ROOT_TOKEN.fullmatch(token) for token in tokens), template
            assert "draftOrders" not in template


def test_discovery_prefetch_brings_statements_including_stopped_and_requests(
    client: TestClient,
) -> None:
    prefetch = client.get("/cds-services").json()["services"][0]["prefetch"]
    statements = [t for t in prefetch.values() if t.startswith("MedicationStatement?")]
    requests = [t for t in prefetch.values() if t.startswith("MedicationRequest?")]
    assert len(statements) == 1
    assert len(requests) == 1
    assert "stopped" in statements[0]
    assert "patient={{context.patientId}}" in statements[0]
    assert any(t.startswith("Patient/") for t in prefetch.values())


def test_discovery_never_sends_null_or_empty_optional_values(client: TestClient) -> None:
    body = client.get("/cds-services").json()
    for node in _walk(body):
        assert node is not None
        assert node not in ("", [], {})
