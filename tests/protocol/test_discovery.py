"""GET /cds-services: one id for order-select and order-sign, valid 2.0.1 prefetch templates."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

ROOT_TOKEN = re.compile(r"\{\{context\.(patientId|userId|encounterId)\}\}")


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *[item for v in value.values() for item in _walk(v)]]
    if isinstance(value, list):
        return [value, *[item for v in value for item in _walk(v)]]
    return [value]


def test_discovery_lists_one_service_id_for_order_select_and_order_sign(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    assert sorted(s["hook"] for s in services) == ["order-select", "order-sign"]
    assert {s["id"] for s in services} == {"ketamine-infusion-check"}
    for service in services:
        assert service["title"]
        assert "ketamine" in service["description"].lower()
        assert service["usageRequirements"]


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
