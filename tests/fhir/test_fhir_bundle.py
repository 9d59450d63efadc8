"""Pure helpers: lenient Bundle reading, reference and URL rules (no HTTP)."""

from __future__ import annotations

import pytest

from cds_service.errors import FhirFatalError, FhirTemporaryError
from cds_service.fhir import bundle as fb
from cds_service.fhir import urls


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("https://ehr.example.org/fhir/MedicationRequest?p=2", True),
        ("https://ehr.example.org:443/x", False),  # explicit port differs from the implicit one
        ("https://evil.example.net/fhir/MedicationRequest", False),
        ("http://ehr.example.org/fhir/MedicationRequest", False),
        ("/fhir/MedicationRequest", False),
    ],
)
def test_same_origin_compares_scheme_host_and_port(url: str, same: bool) -> None:
    assert urls.same_origin(url, "https://ehr.example.org/fhir") is same


@pytest.mark.parametrize(
    ("reference", "url"),
    [
        ("Medication/m1", "https://ehr.example.org/fhir/Medication/m1"),
        (
            "https://ehr.example.org/fhir/Medication/m1",
            "https://ehr.example.org/fhir/Medication/m1",
        ),
        ("https://other.example/fhir/Medication/m1", None),
        ("urn:uuid:1234", None),
        ("Medication/m1/_history/2", None),
    ],
)
def test_medication_url_reads_only_from_the_request_server(reference: str, url: str | None) -> None:
    assert fb.medication_url(reference, "https://ehr.example.org/fhir") == url


def test_read_page_skips_malformed_entries_and_keys_medications() -> None:
    body = {
        "resourceType": "Bundle",
        "entry": [
            "junk",
            {"resource": "junk"},
            {"fullUrl": "urn:uuid:9", "resource": {"resourceType": "Medication", "id": "m9"}},
            {"resource": {"resourceType": "MedicationStatement", "id": "s1"}},
        ],
        "link": [{"relation": "self", "url": "x"}, {"relation": "next", "url": "y"}],
    }

    page = fb.read_page(body, "MedicationStatement", limit=10)

    assert [r["id"] for r in page.resources] == ["s1"]
    assert set(page.medications) == {"Medication/m9", "urn:uuid:9"}
    assert page.next_url == "y"


def test_host_and_path_drops_the_query_string() -> None:
    url = "https://ehr.example.org/fhir/MedicationRequest?patient=secret-id"
    assert urls.host_and_path(url) == "ehr.example.org/fhir/MedicationRequest"


def test_answer_body_keeps_status_and_outcome_text() -> None:
    outcome = b'{"resourceType":"OperationOutcome","issue":[{"code":"transient","diagnostics":"db down"}]}'

    with pytest.raises(FhirTemporaryError) as caught:
        fb.answer_body(503, outcome)

    assert (caught.value.status_code, caught.value.outcome_text) == (503, "db down")


def test_answer_body_when_ok_status_carries_an_outcome_is_fatal() -> None:
    with pytest.raises(FhirFatalError, match="OperationOutcome"):
        fb.answer_body(200, b'{"resourceType":"OperationOutcome","issue":[]}')


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.5"])
def test_is_loopback_when_host_is_a_loopback_name_or_address_is_true(host: str) -> None:
    assert urls.is_loopback(host)


def test_read_page_collects_outside_medication_references_of_the_records_it_keeps() -> None:
    def request(rid: str, reference: str) -> dict:
        return {
            "resourceType": "MedicationRequest",
            "id": rid,
            "medicationReference": {"reference": reference},
        }

    body = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": request("r1", "Medication/m1")},
            {"resource": request("r2", "#contained")},
            {"resource": request("r3", "Medication/m1")},
            {"resource": request("r4", "Medication/m2")},
            {"resource": request("r5", "Medication/beyond-the-limit")},
        ],
    }
    page = fb.read_page(body, "MedicationRequest", limit=4)
    assert page.references == ("Medication/m1", "Medication/m2")
    assert page.dropped == 1
