"""Hook calls with the patient's context: Conditions and social history by prefetch or fhirServer.

A server without the Condition or Observation search, or a failed search, is a data gap said on the
class cards it could have changed ("Not checked: Condition list ..."), never a card of its own, a 412
or a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from fastapi.testclient import TestClient

from tests.conftest import SERVICE_URL, make_app, make_settings
from tests.payloads import CLONAZEPAM, bundle, hook_request, ketamine_order, statement

FHIR = "https://ehr.example.org/fhir"
LAMOTRIGINE = statement(
    "ms-ltg",
    "28439",
    "lamotrigine",
    reasonReference=[{"reference": "Condition/epi-1"}],
    effectivePeriod={"start": "2026-01-10"},
)
EPILEPSY = {
    "resourceType": "Condition",
    "id": "epi-1",
    "clinicalStatus": {"coding": [{"code": "active"}]},
    "code": {
        "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G40.909"}],
        "text": "Epilepsy, unspecified",
    },
}
BEERS = {
    "resourceType": "MedicationStatement",
    "id": "ms-etoh",
    "status": "active",
    "medicationCodeableConcept": {"text": "Alcohol - 4 to 6 beers daily"},
}


def _topics(body: dict[str, Any]) -> list[str]:
    return sorted(card["source"]["topic"]["code"] for card in body["cards"])


def _card(body: dict[str, Any], topic: str) -> dict[str, Any]:
    return next(c for c in body["cards"] if c["source"]["topic"]["code"] == topic)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(make_settings(tmp_path))) as test_client:
        yield test_client


@pytest.fixture
def fhir_server() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=FHIR, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def _fetching(*medications: dict[str, Any]) -> dict[str, Any]:
    """Medications prefetched, the patient's context left to the FHIR server."""
    prefetch = {"medicationStatements": bundle(*medications), "medicationRequests": bundle()}
    body = hook_request(ketamine_order(), prefetch=prefetch)
    body["fhirServer"] = FHIR
    return body


def test_prefetched_epilepsy_condition_takes_the_hold_off_a_lamotrigine_taken_for_it(
    client: TestClient,
) -> None:
    body = hook_request(ketamine_order(), medications=(LAMOTRIGINE,))
    body["prefetch"]["conditions"] = bundle(EPILEPSY)

    answer = client.post(SERVICE_URL, json=body).json()

    card = _card(answer, "LTG")
    assert "taken for epilepsy" in card["summary"].lower()
    assert not [s for s in card.get("suggestions") or [] if "hold" in s["label"].lower()]


def test_conditions_missing_from_prefetch_are_read_from_the_fhir_server(
    client: TestClient, fhir_server: respx.MockRouter
) -> None:
    conditions = fhir_server.get("/Condition").respond(json=bundle(EPILEPSY))
    fhir_server.get("/Observation").respond(json=bundle())

    answer = client.post(SERVICE_URL, json=_fetching(LAMOTRIGINE)).json()

    assert conditions.called
    assert conditions.calls[0].request.url.params["clinical-status"] == "active,recurrence,relapse"
    assert _topics(answer) == ["LTG"]
    assert "taken for epilepsy" in _card(answer, "LTG")["summary"].lower()


@pytest.mark.parametrize("status", [404, 400, 500])
def test_server_without_condition_search_is_said_on_the_card_never_a_412(
    client: TestClient, fhir_server: respx.MockRouter, status: int
) -> None:
    fhir_server.get("/Condition").respond(status, json={"resourceType": "OperationOutcome"})
    fhir_server.get("/Observation").respond(json=bundle())

    response = client.post(SERVICE_URL, json=_fetching(LAMOTRIGINE))

    assert response.status_code == 200
    assert _topics(response.json()) == ["LTG"]
    assert (
        "Not checked, may change this card_: Condition list"
        in _card(response.json(), "LTG")["detail"]
    )


def test_condition_gap_makes_no_card_beside_a_class_it_cannot_change(
    client: TestClient, fhir_server: respx.MockRouter
) -> None:
    fhir_server.get("/Condition").respond(404)
    fhir_server.get("/Observation").respond(404)

    response = client.post(SERVICE_URL, json=_fetching(CLONAZEPAM))

    assert response.status_code == 200
    assert _topics(response.json()) == ["BZD"]
    assert "Not checked" not in _card(response.json(), "BZD")["detail"]


def test_context_gap_on_a_clean_list_makes_no_card(
    client: TestClient, fhir_server: respx.MockRouter
) -> None:
    fhir_server.get("/Condition").respond(404)
    fhir_server.get("/Observation").respond(500)

    response = client.post(SERVICE_URL, json=_fetching())

    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_heavy_drinking_in_the_list_raises_the_benzodiazepine_card_with_the_combined_risk(
    client: TestClient,
) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM, BEERS))

    answer = client.post(SERVICE_URL, json=body).json()

    assert _topics(answer) == ["BZD", "CNSDEP"]
    assert "alcohol: combined respiratory risk" in _card(answer, "BZD")["summary"].lower()


def test_social_history_drinks_per_day_from_the_server_give_the_alcohol_card(
    client: TestClient, fhir_server: respx.MockRouter
) -> None:
    drinks = {
        "resourceType": "Observation",
        "id": "sh-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "74013-4"}]},
        "valueQuantity": {"value": 6},
        "effectiveDateTime": "2026-11-01",
    }
    fhir_server.get("/Condition").respond(json=bundle())
    social = fhir_server.get("/Observation", params={"category": "social-history"}).respond(
        json=bundle(drinks)
    )
    fhir_server.get("/Observation").respond(json=bundle())

    answer = client.post(SERVICE_URL, json=_fetching(CLONAZEPAM)).json()

    assert social.called
    assert _topics(answer) == ["BZD", "CNSDEP"]
    assert "heavy alcohol use" in _card(answer, "CNSDEP")["summary"].lower()


def test_patient_free_text_is_never_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = hook_request(ketamine_order(), medications=(BEERS,))
    with caplog.at_level("DEBUG"):
        client.post(SERVICE_URL, json=body)
    assert "beers" not in caplog.text.lower()


def test_discovery_lists_the_patient_context_templates(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    sign = next(s for s in services if s["hook"] == "order-sign")
    assert sign["prefetch"]["conditions"].startswith("Condition?patient={{context.patientId}}")
    assert "category=social-history" in sign["prefetch"]["socialHistory"]
    assert "85354-9" in sign["prefetch"]["bloodPressure"]


def test_blood_pressure_gap_is_said_on_the_stimulant_card_only(
    client: TestClient, fhir_server: respx.MockRouter
) -> None:
    adderall = statement("ms-amph", "725", "amphetamine", effectivePeriod={"start": "2026-01-10"})
    fhir_server.get("/Condition").respond(json=bundle())
    fhir_server.get("/Observation", params={"category": "social-history"}).respond(json=bundle())
    fhir_server.get("/Observation").respond(503)

    answer = client.post(SERVICE_URL, json=_fetching(adderall, CLONAZEPAM)).json()

    assert _topics(answer) == ["BZD", "STIM"]
    assert "Blood-pressure Observation list" in _card(answer, "STIM")["detail"]
    assert "Not checked" not in _card(answer, "BZD")["detail"]
