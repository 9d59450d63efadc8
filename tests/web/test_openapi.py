"""The OpenAPI document describes every answer and the rules the intake enforces."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cds_service.web.openapi import CONTEXT_RULES
from tests.conftest import SERVICE_URL
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order


@pytest.fixture
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        (
            "/cds-services/{service_id}",
            "post",
            {"200", "400", "401", "404", "408", "412", "413", "415", "500"},
        ),
        (
            "/cds-services/{service_id}/feedback",
            "post",
            {"200", "400", "401", "404", "408", "413", "415", "500", "503"},
        ),
        ("/cds-services", "get", {"200", "401", "500"}),
        ("/health", "get", {"200", "500"}),
        ("/ready", "get", {"200", "500", "503"}),
    ],
)
def test_document_lists_every_answer_of_each_route(
    document: dict[str, Any], path: str, method: str, codes: set[str]
) -> None:
    responses = document["paths"][path][method]["responses"]

    assert set(responses) == codes
    for code in codes - {"200", "401"} - ({"503"} if path == "/ready" else set()):
        schema = responses[code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/OperationOutcome"}


def test_document_says_order_select_needs_selections(document: dict[str, Any]) -> None:
    rules = document["components"]["schemas"]["HookRequest"]["allOf"]
    hooks = {r["if"]["properties"].get("hook", {}).get("const"): r["then"] for r in rules}

    assert "selections" in hooks["order-select"]["properties"]["context"]["required"]
    assert "selections" not in hooks["order-sign"]["properties"]["context"]["required"]


def test_document_says_accepted_feedback_needs_accepted_suggestions(
    document: dict[str, Any],
) -> None:
    item = document["components"]["schemas"]["FeedbackItem"]

    assert item["if"]["properties"]["outcome"] == {"const": "accepted"}
    assert item["then"]["required"] == ["acceptedSuggestions"]


def _without(hook: str, field: str) -> dict[str, Any]:
    body = hook_request(ketamine_order(), hook=hook, medications=(CLONAZEPAM,))
    body["context"].pop(field, None)
    return body


@pytest.mark.parametrize(
    ("hook", "field"),
    [(hook, field) for hook, rule in CONTEXT_RULES.items() for field in rule.get("required", [])],
)
def test_documented_required_context_field_is_required_by_the_intake(
    client: TestClient, hook: str, field: str
) -> None:
    response = client.post(SERVICE_URL, json=_without(hook, field))

    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [f"context.{field}"]


@pytest.mark.parametrize(
    ("hook", "field"),
    [(hook, field) for hook, rule in CONTEXT_RULES.items() for field in rule.get("ignored", [])],
)
def test_documented_ignored_context_field_is_ignored_by_the_intake(
    client: TestClient, hook: str, field: str
) -> None:
    body = hook_request(ketamine_order(), hook=hook)
    body["context"][field] = {"not": "what the model takes"}

    assert client.post(SERVICE_URL, json=body).status_code == 200


@pytest.mark.parametrize(
    ("hook", "alias", "field"),
    [
        (hook, alias, field)
        for hook, rule in CONTEXT_RULES.items()
        for alias, field in rule.get("aliases", {}).items()
    ],
)
def test_documented_alias_is_read_in_place_of_its_field(
    client: TestClient, hook: str, alias: str, field: str
) -> None:
    body = _without(hook, field)
    body["context"][alias] = hook_request(ketamine_order())["context"][field]

    response = client.post(SERVICE_URL, json=body)

    assert response.status_code == 200
    assert response.json()["cards"]  # the ketamine order was read through the alias
    assert client.post(SERVICE_URL, json=_without(hook, field)).status_code == 400


def test_document_has_no_422_answers(document: dict[str, Any]) -> None:
    codes = {
        code
        for ops in document["paths"].values()
        for op in ops.values()
        for code in op["responses"]
    }

    assert "422" not in codes


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-02:00"])
def test_document_leaves_out_the_edge_days_the_store_refuses(
    client: TestClient, document: dict[str, Any], when: str
) -> None:
    pattern = document["components"]["schemas"]["FeedbackItem"]["properties"]["outcomeTimestamp"]
    item = {"card": "c1", "outcome": "overridden", "outcomeTimestamp": when}

    answer = client.post(f"{SERVICE_URL}/feedback", json={"feedback": [item]})

    assert answer.status_code == 400
    assert re.match(pattern["pattern"], when) is None
