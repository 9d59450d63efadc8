"""patient-view and encounter-start: cards only when an infusion appointment is near, else none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import respx

from tests.cdshooks.appointments import (
    CHECKIN_URL,
    MEDICATIONS,
    NOW,
    START,
    VIEW_URL,
    appointment,
    frozen_client,
    topics,
    view_request,
)
from tests.conftest import make_settings
from tests.payloads import PATIENT_ID, bundle

FHIR = "https://ehr.example.org/fhir"
EPIC_EXTENSION = {
    "com.epic.cdshooks.request.bpa-trigger-action": "60",
    "com.epic.cdshooks.request.cds-hooks-specification-version": "1.1",
    "com.epic.cdshooks.request.fhir-version": "R4",
    "com.epic.cdshooks.request.criteria-id": "1126",
}


@pytest.fixture
def fhir_server() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=FHIR, assert_all_called=False, assert_all_mocked=True) as router:
        # The patient's context (Conditions, social history, blood pressure): none recorded.
        router.get("/Condition").respond(json=bundle())
        router.get("/Observation").respond(json=bundle())
        yield router


def _from_server(**extra: Any) -> dict[str, Any]:
    """A patient-view call with nothing prefetched: everything must be read from the server."""
    return view_request(prefetch={}, fhirServer=FHIR, **extra)


def test_discovery_lists_patient_view_with_only_the_appointment_search(tmp_path: Path) -> None:
    with frozen_client(make_settings(tmp_path)) as client:
        services = client.get("/cds-services").json()["services"]
    entry = next(s for s in services if s["hook"] == "patient-view")
    assert entry["id"] == "ketamine-infusion-patient-view"
    assert list(entry["prefetch"]) == ["appointments"]
    assert entry["prefetch"]["appointments"].startswith(
        "Appointment?patient={{context.patientId}}&status="
    )


def test_patient_view_when_an_infusion_is_within_the_horizon_gives_the_hold_cards(
    tmp_path: Path,
) -> None:
    request = view_request(appointments=[appointment(status="booked")])
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(VIEW_URL, json=request).json()
    assert sorted(topics(body)) == ["BZD", "LTG"]
    bzd = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "BZD")
    assert "No clonazepam from 03:00 UTC on 1 Dec" in bzd["detail"]


def test_patient_view_when_the_infusion_is_beyond_the_horizon_gives_no_cards(
    tmp_path: Path,
) -> None:
    later = appointment(start=NOW + timedelta(days=9))
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(VIEW_URL, json=view_request(appointments=[later])).json()
    assert body == {"cards": []}


def test_patient_view_horizon_is_a_setting(tmp_path: Path) -> None:
    later = appointment(start=NOW + timedelta(days=9))
    settings = make_settings(tmp_path, previsit_horizon_days=14)
    with frozen_client(settings) as client:
        body = client.post(VIEW_URL, json=view_request(appointments=[later])).json()
    assert sorted(topics(body)) == ["BZD", "LTG"]


def test_patient_view_when_no_appointment_is_an_infusion_gives_no_cards(tmp_path: Path) -> None:
    dentist = appointment(service="Dental cleaning")
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(VIEW_URL, json=view_request(appointments=[dentist])).json()
    assert body == {"cards": []}


def test_patient_view_with_no_appointment_reads_no_medications(
    tmp_path: Path, fhir_server: respx.MockRouter
) -> None:
    fhir_server.get("/Appointment").respond(json=bundle())
    statements = fhir_server.get("/MedicationStatement").respond(json=bundle())
    requests = fhir_server.get("/MedicationRequest").respond(json=bundle())
    with frozen_client(make_settings(tmp_path)) as client:
        response = client.post(VIEW_URL, json=_from_server())
    assert response.json() == {"cards": []}
    assert not statements.called
    assert not requests.called


def test_patient_view_reads_the_medications_once_an_infusion_is_near(
    tmp_path: Path, fhir_server: respx.MockRouter
) -> None:
    search = fhir_server.get("/Appointment").respond(json=bundle(appointment(status="booked")))
    fhir_server.get("/MedicationStatement").respond(json=bundle(*MEDICATIONS))
    fhir_server.get("/MedicationRequest").respond(json=bundle())
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(VIEW_URL, json=_from_server()).json()
    assert sorted(topics(body)) == ["BZD", "LTG"]
    assert search.calls.last.request.url.params["patient"] == PATIENT_ID
    assert search.calls.last.request.url.params["_sort"] == "-date"


@pytest.mark.parametrize(
    ("status", "outcome_code"), [(404, "not-supported"), (400, "not-supported"), (500, "exception")]
)
def test_patient_view_when_the_server_cannot_search_appointments_gives_no_cards_never_a_500(
    tmp_path: Path, fhir_server: respx.MockRouter, status: int, outcome_code: str
) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": outcome_code, "diagnostics": "no Appointment"}],
    }
    fhir_server.get("/Appointment").respond(status, json=outcome)
    statements = fhir_server.get("/MedicationStatement").respond(json=bundle())
    with frozen_client(make_settings(tmp_path)) as client:
        response = client.post(VIEW_URL, json=_from_server())
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    assert not statements.called


def test_patient_view_without_prefetch_or_server_gives_no_cards(tmp_path: Path) -> None:
    with frozen_client(make_settings(tmp_path)) as client:
        response = client.post(VIEW_URL, json=view_request(prefetch={}))
    assert (response.status_code, response.json()) == (200, {"cards": []})


def test_patient_view_from_an_epic_open_chart_trigger_answers_in_the_epic_profile(
    tmp_path: Path,
) -> None:
    request = view_request(appointments=[appointment(status="booked")], extension=EPIC_EXTENSION)
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(VIEW_URL, json=request).json()
    assert sorted(topics(body)) == ["BZD", "LTG"]
    for card in body["cards"]:
        assert card["extension"]["com.epic.cdshooks.card.detail.content-type"] == "text/markdown"


def test_encounter_start_at_check_in_asks_when_the_held_medicines_were_last_taken(
    tmp_path: Path,
) -> None:
    request = view_request("encounter-start", appointments=[appointment(status="arrived")])
    with frozen_client(make_settings(tmp_path), now=START - timedelta(minutes=30)) as client:
        body = client.post(CHECKIN_URL, json=request).json()
    bzd = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "BZD")
    assert "Confirm when clonazepam was last taken" in bzd["detail"]
    ltg = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "LTG")
    assert "Confirm when lamotrigine was last taken" in ltg["detail"]


def test_encounter_start_with_no_infusion_today_gives_no_cards(tmp_path: Path) -> None:
    request = view_request("encounter-start", appointments=[appointment()])
    with frozen_client(make_settings(tmp_path), now=START - timedelta(days=3)) as client:
        assert client.post(CHECKIN_URL, json=request).json() == {"cards": []}
