"""EHR profiles through the whole app: chosen once per request, configured or detected, and logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_app, make_settings
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order

SIGN_URL = "/cds-services/ketamine-infusion-order-sign"
EPIC_EXTENSION = {
    "com.epic.cdshooks.request.bpa-trigger-action": "23",
    "com.epic.cdshooks.request.cds-hooks-specification-version": "1.1",
}


def _card(client: TestClient, **extra: Any) -> dict:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,), **extra)
    response = client.post(SIGN_URL, json=body)
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    return card


def test_request_with_epic_extensions_is_answered_with_the_epic_profile_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="cds_service.service"):
        card = _card(client, extension=EPIC_EXTENSION)
    assert "suggestions" not in card  # no MedicationRequest update for Epic, no code configured
    assert card["extension"]["com.epic.cdshooks.card.detail.content-type"] == "text/markdown"
    assert [
        getattr(r, "profile", None) for r in caplog.records if r.getMessage() == "evaluated"
    ] == ["epic"]


def test_request_without_epic_extensions_is_answered_with_the_spec_profile(
    client: TestClient,
) -> None:
    card = _card(client)
    hold, patient = card["suggestions"]
    assert hold["actions"][0]["type"] == "update"
    assert patient["actions"][0]["resource"]["resourceType"] == "CommunicationRequest"
    assert card["selectionBehavior"] == "at-most-one"


def test_configured_epic_profile_with_preference_codes_orders_the_hold_instruction(
    tmp_path,
) -> None:
    settings = make_settings(
        tmp_path,
        ehr_profile="epic",
        epic_preference_list_codes={"add-hold-instruction": "12345"},
    )
    with TestClient(make_app(settings)) as client:
        card = _card(client)
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert (card["selectionBehavior"], action["type"]) == ("any", "create")
    assert action["resource"]["resourceType"] == "ServiceRequest"


def test_configured_full_detail_keeps_the_long_form(tmp_path) -> None:
    with TestClient(make_app(make_settings(tmp_path, card_detail="full"))) as client:
        card = _card(client)
    assert "**Recommendation**" in card["detail"]


def test_oracle_profile_sends_links_only_to_allowlisted_hosts(tmp_path) -> None:
    settings = make_settings(tmp_path, ehr_profile="oracle", link_allowlist="doi.org, www.fda.gov")
    with TestClient(make_app(settings)) as client:
        card = _card(client)
    assert {link["url"].split("/")[2] for link in card["links"]} <= {"doi.org", "www.fda.gov"}


def test_unknown_preference_list_kind_is_refused_at_start_up(tmp_path) -> None:
    with pytest.raises(ValueError, match="epic_preference_list_codes"):
        make_settings(tmp_path, epic_preference_list_codes={"cancel-ketamine-order": "1"})
