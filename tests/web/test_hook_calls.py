"""POST /cds-services/{id}: cards for ketamine orders, nothing for anything else, tolerant of real clients."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SERVICE_URL, make_app, make_settings
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order, other_order, statement


def _topics(response_json: dict) -> list[str]:
    return [card["source"]["topic"]["code"] for card in response_json["cards"]]


def test_ketamine_order_sign_with_clonazepam_returns_one_benzodiazepine_card(
    client: TestClient,
) -> None:
    response = client.post(
        SERVICE_URL, json=hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    )
    assert response.status_code == 200
    assert _topics(response.json()) == ["BZD"]
    card = response.json()["cards"][0]
    assert "clonazepam" in card["summary"].lower()
    uuid.UUID(card["uuid"])


def test_non_ketamine_order_returns_an_empty_card_list(client: TestClient) -> None:
    response = client.post(SERVICE_URL, json=hook_request(other_order(), medications=(CLONAZEPAM,)))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_non_ketamine_order_needs_no_medication_data(client: TestClient) -> None:
    response = client.post(SERVICE_URL, json=hook_request(other_order(), prefetch={}))
    assert response.json() == {"cards": []}


def test_ketamine_with_a_clean_medication_list_returns_no_cards(client: TestClient) -> None:
    sertraline = statement("ms-1", "312940", "Sertraline 50 MG Oral Tablet")
    response = client.post(
        SERVICE_URL, json=hook_request(ketamine_order(), medications=(sertraline,))
    )
    assert response.json() == {"cards": []}


def test_order_select_only_checks_the_selected_orders(client: TestClient) -> None:
    body = hook_request(
        ketamine_order(),
        other_order(),
        hook="order-select",
        medications=(CLONAZEPAM,),
        selections=["MedicationRequest/nap-1"],
    )
    assert client.post(SERVICE_URL, json=body).json() == {"cards": []}
    body["context"]["selections"] = ["MedicationRequest/ket-1"]
    assert _topics(client.post(SERVICE_URL, json=body).json()) == ["BZD"]


def test_legacy_medication_prescribe_hook_is_mapped_onto_the_same_path(client: TestClient) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    body["hook"] = "medication-prescribe"
    body["context"]["medications"] = body["context"].pop("draftOrders")
    response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 200
    assert _topics(response.json()) == ["BZD"]


def test_unknown_request_and_context_fields_are_tolerated(client: TestClient) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    body["extension"] = {"com.example.thing": True}
    body["context"]["reasonCode"] = {"text": "TRD"}  # the Sandbox adds an object here
    body["fhirAuthorization"] = None
    response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 200
    assert _topics(response.json()) == ["BZD"]


def test_response_never_contains_null_values(client: TestClient) -> None:
    response = client.post(
        SERVICE_URL, json=hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    )
    assert "null" not in response.text


def _bzd_card(client: TestClient, start: str) -> dict:
    order = ketamine_order()
    order["dosageInstruction"][0]["timing"] = {"event": [start]}
    response = client.post(SERVICE_URL, json=hook_request(order, medications=(CLONAZEPAM,)))
    return next(c for c in response.json()["cards"] if c["source"]["topic"]["code"] == "BZD")


def test_hold_window_is_shown_in_the_offset_the_infusion_start_was_given_in(
    client: TestClient,
) -> None:
    card = _bzd_card(client, "2026-12-01T09:00:00-05:00")
    assert "the start, 09:00 UTC-05:00 on 1 Dec" in card["detail"]
    window = card["extension"]["ketamineCds.holdWindows"][0]
    assert window["holdFrom"] == "2026-11-30T21:00:00-05:00"
    assert window["reference"] == "MedicationStatement/ms-clonazepam"


def test_hold_window_uses_the_configured_site_timezone(tmp_path) -> None:
    app = make_app(make_settings(tmp_path, timezone="Europe/London"))
    with TestClient(app) as client:
        card = _bzd_card(client, "2026-12-01T09:00:00-05:00")
    assert "the start, 14:00 GMT on 1 Dec" in card["detail"]
    assert (
        card["extension"]["ketamineCds.holdWindows"][0]["holdFrom"] == "2026-12-01T02:00:00+00:00"
    )


def test_unknown_site_timezone_is_refused_at_start_up(tmp_path) -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        make_settings(tmp_path, timezone="Mars/Olympus")


def test_bare_order_select_answers_no_cards_and_logs_why(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # The Sandbox re-sends order-select with only patientId and userId when Rx View is re-clicked.
    body = hook_request(ketamine_order(), hook="order-select", medications=(CLONAZEPAM,))
    del body["context"]["draftOrders"], body["context"]["selections"]
    with caplog.at_level(logging.INFO, logger="cds_service.service"):
        response = client.post("/cds-services/ketamine-infusion-order-select", json=body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    reasons = [getattr(r, "reason", "") for r in caplog.records]
    assert any("without draftOrders or selections" in reason for reason in reasons)


def test_bare_order_select_still_needs_the_fields_every_hook_carries(client: TestClient) -> None:
    body = hook_request(ketamine_order(), hook="order-select")
    body["context"] = {"userId": "Practitioner/1"}
    response = client.post("/cds-services/ketamine-infusion-order-select", json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["context.patientId"]


def test_date_only_start_from_the_sandbox_gives_no_clock_time(client: TestClient) -> None:
    card = _bzd_card(client, "2026-12-03")
    assert "Infusion on 3 Dec, start time not given" in card["detail"]
    assert re.search(r"\d{2}:\d{2}", card["detail"]) is None


def test_service_warns_at_start_up_when_no_site_timezone_is_set(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        make_app(make_settings(tmp_path))
    assert any("CDS_TIMEZONE is not set" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        make_app(make_settings(tmp_path, timezone="Europe/London"))
    assert not any("CDS_TIMEZONE" in r.getMessage() for r in caplog.records)
