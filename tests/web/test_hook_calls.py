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


def test_hook_call_when_ketamine_and_clonazepam_returns_one_bzd_card(
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


def test_hook_call_when_order_not_ketamine_returns_no_cards(client: TestClient) -> None:
    response = client.post(SERVICE_URL, json=hook_request(other_order(), medications=(CLONAZEPAM,)))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_hook_call_when_order_not_ketamine_needs_no_medication_data(client: TestClient) -> None:
    response = client.post(SERVICE_URL, json=hook_request(other_order(), prefetch={}))
    assert response.json() == {"cards": []}


def test_hook_call_when_medication_list_clean_returns_no_cards(client: TestClient) -> None:
    sertraline = statement("ms-1", "312940", "Sertraline 50 MG Oral Tablet")
    response = client.post(
        SERVICE_URL, json=hook_request(ketamine_order(), medications=(sertraline,))
    )
    assert response.json() == {"cards": []}


def test_order_select_when_orders_selected_checks_only_those(client: TestClient) -> None:
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


def test_medication_prescribe_when_called_answers_like_order_sign(client: TestClient) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    body["hook"] = "medication-prescribe"
    body["context"]["medications"] = body["context"].pop("draftOrders")
    response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 200
    assert _topics(response.json()) == ["BZD"]


def test_hook_call_when_unknown_fields_present_tolerates_them(client: TestClient) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    body["extension"] = {"com.example.thing": True}
    body["context"]["reasonCode"] = {"text": "TRD"}  # the Sandbox adds an object here
    body["fhirAuthorization"] = None
    response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 200
    assert _topics(response.json()) == ["BZD"]


def test_hook_call_when_cards_returned_sends_no_null_values(client: TestClient) -> None:
    response = client.post(
        SERVICE_URL, json=hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    )
    assert "null" not in response.text


def _bzd_card(client: TestClient, start: str) -> dict:
    order = ketamine_order()
    order["dosageInstruction"][0]["timing"] = {"event": [start]}
    response = client.post(SERVICE_URL, json=hook_request(order, medications=(CLONAZEPAM,)))
    return next(c for c in response.json()["cards"] if c["source"]["topic"]["code"] == "BZD")


def test_hold_window_when_no_site_timezone_uses_the_start_offset(
    client: TestClient,
) -> None:
    card = _bzd_card(client, "2026-12-01T09:00:00-05:00")
    assert "the start, 09:00 UTC-05:00 on 1 Dec" in card["detail"]
    window = card["extension"]["ketamineCds.holdWindows"][0]
    assert window["holdFrom"] == "2026-11-30T21:00:00-05:00"
    assert window["reference"] == "MedicationStatement/ms-clonazepam"


def test_hold_window_when_site_timezone_set_uses_it(tmp_path) -> None:
    app = make_app(make_settings(tmp_path, timezone="Europe/London"))
    with TestClient(app) as client:
        card = _bzd_card(client, "2026-12-01T09:00:00-05:00")
    assert "the start, 14:00 GMT on 1 Dec" in card["detail"]
    assert (
        card["extension"]["ketamineCds.holdWindows"][0]["holdFrom"] == "2026-12-01T02:00:00+00:00"
    )


def test_order_select_when_bare_answers_no_cards_and_logs_why(
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


def test_order_select_when_bare_still_needs_the_fields_every_hook_carries(
    client: TestClient,
) -> None:
    body = hook_request(ketamine_order(), hook="order-select")
    body["context"] = {"userId": "Practitioner/1"}
    response = client.post("/cds-services/ketamine-infusion-order-select", json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["context.patientId"]


def test_hold_window_when_start_is_date_only_gives_no_clock_time(client: TestClient) -> None:
    card = _bzd_card(client, "2026-12-03")
    assert "Infusion on 3 Dec, start time not given" in card["detail"]
    assert re.search(r"\d{2}:\d{2}", card["detail"]) is None


def test_create_app_when_no_site_timezone_warns_at_start_up(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        make_app(make_settings(tmp_path))
    assert any("CDS_TIMEZONE is not set" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        make_app(make_settings(tmp_path, timezone="Europe/London"))
    assert not any("CDS_TIMEZONE" in r.getMessage() for r in caplog.records)
