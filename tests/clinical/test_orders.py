"""Ketamine-order detection in draftOrders: every shape, selections, esketamine, start times, junk."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cds_service.clinical.lexicon import Lexicon
from cds_service.clinical.orders import find_ketamine_orders, unresolved_medication_references
from cds_service.clinical.types import InfusionStart
from tests import pipeline
from tests.clinical.lexicon_builders import RXNORM, SNOMED, built_lexicon

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def lexicon() -> Lexicon:
    return built_lexicon()


def bundle(*resources: Any, full_urls: tuple[str, ...] = ()) -> dict[str, Any]:
    entries: list[Any] = []
    for index, resource in enumerate(resources):
        entry: dict[str, Any] = {"resource": resource}
        if index < len(full_urls):
            entry["fullUrl"] = full_urls[index]
        entries.append(entry)
    return {"resourceType": "Bundle", "entry": entries}


def request(rid: str = "103", **fields: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft", **fields}


def coded(code: str, display: str = "", system: str = RXNORM) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def find(
    lexicon: Lexicon,
    drafts: dict[str, Any],
    selections: tuple[str, ...] | None = None,
    *,
    esketamine: bool = False,
    medications: dict[str, Any] | None = None,
) -> list[str]:
    orders = find_ketamine_orders(
        drafts, selections, lexicon, include_esketamine=esketamine, medications=medications or {}
    )
    return [order.reference for order in orders]


@pytest.mark.parametrize(
    "concept",
    [
        coded("6130"),
        coded("238083"),
        coded("781953007", system=SNOMED),
        {"text": "Ketamine HCl 50 mg/mL IV infusion"},
        coded("999", "KETALAR 10 MG/ML Injectable Solution"),
    ],
)
def test_find_when_medication_codeable_concept_is_ketamine_detects_it(
    lexicon: Lexicon, concept: dict[str, Any]
) -> None:
    assert find(lexicon, bundle(request(medicationCodeableConcept=concept))) == [
        "MedicationRequest/103"
    ]


def test_find_when_not_ketamine_returns_nothing(lexicon: Lexicon) -> None:
    naproxen = request(medicationCodeableConcept=coded("245420", "Naproxen 125 MG Oral Tablet"))
    assert find(lexicon, bundle(naproxen)) == []


def test_find_when_contained_medication_detects_it(lexicon: Lexicon) -> None:
    medication = {"resourceType": "Medication", "id": "k", "code": coded("6130")}
    drafts = bundle(request(contained=[medication], medicationReference={"reference": "#k"}))
    assert find(lexicon, drafts) == ["MedicationRequest/103"]


@pytest.mark.parametrize(
    ("reference", "full_url"),
    [
        ("Medication/m1", None),
        ("urn:uuid:0b5a", "urn:uuid:0b5a"),
        (
            "https://ehr.example.org/fhir/Medication/m1",
            "https://ehr.example.org/fhir/Medication/m1",
        ),
    ],
)
def test_find_when_medication_travels_as_bundle_entry_detects_it(
    lexicon: Lexicon, reference: str, full_url: str | None
) -> None:
    medication = {"resourceType": "Medication", "id": "m1", "code": {"text": "ketamine"}}
    order = request(medicationReference={"reference": reference})
    urls = (full_url or "", "")
    drafts = bundle(medication, order, full_urls=urls if full_url else ())
    assert find(lexicon, drafts) == ["MedicationRequest/103"]
    assert unresolved_medication_references(drafts, None) == ()


def test_find_when_medication_read_from_server_detects_it(lexicon: Lexicon) -> None:
    drafts = bundle(request(medicationReference={"reference": "Medication/remote"}))
    assert unresolved_medication_references(drafts, None) == ("Medication/remote",)
    read = {"Medication/remote": {"resourceType": "Medication", "code": coded("6130")}}
    assert find(lexicon, drafts, medications=read) == ["MedicationRequest/103"]
    assert find(lexicon, drafts) == []


def test_find_when_only_medication_ingredient_is_ketamine_detects_it(lexicon: Lexicon) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "mix",
        "code": {"text": "Compounded infusion bag"},
        "ingredient": [{"itemCodeableConcept": coded("6130")}],
    }
    drafts = bundle(request(contained=[medication], medicationReference={"reference": "#mix"}))
    orders = find_ketamine_orders(drafts, None, lexicon, include_esketamine=False, medications={})
    assert [order.display for order in orders] == ["Compounded infusion bag"]


@pytest.mark.parametrize(
    "concept",
    [coded("2283299"), coded("789488000", system=SNOMED), {"text": "SPRAVATO 28 MG nasal spray"}],
)
def test_find_when_esketamine_follows_setting(lexicon: Lexicon, concept: dict[str, Any]) -> None:
    drafts = bundle(request(medicationCodeableConcept=concept))
    assert find(lexicon, drafts) == []
    orders = find_ketamine_orders(drafts, None, lexicon, include_esketamine=True, medications={})
    assert [(order.reference, order.esketamine) for order in orders] == [
        ("MedicationRequest/103", True)
    ]


def test_find_when_order_select_keeps_only_selections(lexicon: Lexicon) -> None:
    first = request("101", medicationCodeableConcept=coded("6130"))
    second = request("102", medicationCodeableConcept=coded("6130"))
    drafts = bundle(first, second)
    assert find(lexicon, drafts, ("MedicationRequest/102",)) == ["MedicationRequest/102"]
    assert find(lexicon, drafts, ()) == []
    assert find(lexicon, drafts) == ["MedicationRequest/101", "MedicationRequest/102"]


def test_unresolved_references_when_order_select_only_reads_selected(lexicon: Lexicon) -> None:
    drafts = bundle(
        request("101", medicationReference={"reference": "Medication/a"}),
        request("102", medicationReference={"reference": "Medication/b"}),
    )
    assert unresolved_medication_references(drafts, ("MedicationRequest/102",)) == ("Medication/b",)


def test_find_when_sandbox_drafts_with_category_object_detects_ketamine(lexicon: Lexicon) -> None:
    sandbox = {
        "resourceType": "Bundle",
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "request-123",
                    "status": "draft",
                    "authoredOn": "2026-11-27",
                    "category": {"coding": [{"code": "community"}]},
                    "reasonCode": {"text": "Depression"},
                    "dosageInstruction": [{"timing": {"repeat": {"frequency": 1}}}],
                    "medicationCodeableConcept": {
                        "text": "ketamine 50 MG/ML Injectable Solution",
                        "coding": [{"system": RXNORM, "code": "238084"}],
                    },
                }
            }
        ],
    }
    assert find(lexicon, sandbox, ("MedicationRequest/request-123",)) == [
        "MedicationRequest/request-123"
    ]


def test_find_when_first_order_select_draft_has_no_medication_returns_nothing(
    lexicon: Lexicon,
) -> None:
    empty = {"resourceType": "MedicationRequest", "id": "request-123", "status": "draft",
             "subject": {"reference": "Patient/1"}, "authoredOn": "2026-11-27"}  # fmt: skip
    drafts = bundle(empty)
    assert find(lexicon, drafts, ("MedicationRequest/request-123",)) == []
    assert unresolved_medication_references(drafts, None) == ()


def test_find_when_dstu2_medication_order_detects_it(lexicon: Lexicon) -> None:
    order = {"resourceType": "MedicationOrder", "id": "order-123", "dateWritten": "2026-11-27",
             "medicationCodeableConcept": coded("6130", "Ketamine")}  # fmt: skip
    assert find(lexicon, bundle(order)) == ["MedicationOrder/order-123"]


@pytest.mark.parametrize("resource_type", ["ServiceRequest", "ProcedureRequest"])
def test_find_when_service_request_names_ketamine_infusion_detects_it(
    lexicon: Lexicon, resource_type: str
) -> None:
    service = {"resourceType": resource_type, "id": "s1", "code": {"text": "Ketamine infusion"},
               "occurrenceDateTime": "2026-11-28T09:00:00Z"}  # fmt: skip
    orders = find_ketamine_orders(
        bundle(service), None, lexicon, include_esketamine=False, medications={}
    )
    assert [(order.reference, order.start, order.display) for order in orders] == [
        (f"{resource_type}/s1", InfusionStart.instant(START), "Ketamine infusion")
    ]


def test_find_when_service_request_is_ketamine_level_ignores_it(lexicon: Lexicon) -> None:
    lab = {"resourceType": "ServiceRequest", "id": "lab", "code": {"text": "Ketamine level, serum"}}
    other = {
        "resourceType": "ServiceRequest",
        "id": "bp",
        "code": {"text": "IV infusion of saline"},
    }
    assert find(lexicon, bundle(lab, other)) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"dosageInstruction": [{"timing": {"event": ["2026-11-28T09:00:00Z"]}}]}, START),
        (
            {
                "dosageInstruction": [
                    {"text": "x"},
                    {
                        "timing": {
                            "repeat": {"boundsPeriod": {"start": "2026-11-28T10:00:00+01:00"}}
                        }
                    },
                ]
            },
            START,
        ),
        ({"dosageInstruction": [{"timing": {"event": "2026-11-28T09:00:00Z"}}]}, START),
        ({"dosageInstruction": [{"timing": {"event": ["soon"]}}]}, None),
        # A date alone is a date with an unknown time, never midnight UTC (the Sandbox sends one).
        (
            {"dosageInstruction": {"timing": {"event": ["2026-11-28"]}}},
            InfusionStart(day=date(2026, 11, 28)),
        ),
        ({"dosageInstruction": [{"timing": {"event": ["2026-11"]}}]}, None),
        ({"dosageInstruction": [{"timing": {"event": ["2026-02-30"]}}]}, None),
        ({}, None),
    ],
)
def test_find_when_medication_request_timing_reads_start(
    lexicon: Lexicon, fields: dict[str, Any], expected: datetime | InfusionStart | None
) -> None:
    drafts = bundle(request(medicationCodeableConcept=coded("6130"), **fields))
    orders = find_ketamine_orders(drafts, None, lexicon, include_esketamine=False, medications={})
    if isinstance(expected, datetime):
        expected = InfusionStart.instant(expected)
    assert orders[0].start == expected


@pytest.mark.parametrize(
    "fields",
    [
        {"occurrencePeriod": {"start": "2026-11-28T09:00:00Z"}},
        {"occurrenceTiming": {"event": ["2026-11-28T09:00:00Z"]}},
        {"occurrenceTiming": {"repeat": {"boundsPeriod": {"start": "2026-11-28T09:00:00Z"}}}},
    ],
)
def test_find_when_service_request_occurrence_reads_start(
    lexicon: Lexicon, fields: dict[str, Any]
) -> None:
    service = {
        "resourceType": "ServiceRequest",
        "id": "s",
        "code": {"text": "IV ketamine"},
        **fields,
    }
    orders = find_ketamine_orders(
        bundle(service), None, lexicon, include_esketamine=False, medications={}
    )
    assert orders[0].start == InfusionStart.instant(START)


def test_find_keeps_whole_resource_and_default_display(lexicon: Lexicon) -> None:
    medication = {"resourceType": "Medication", "id": "k", "code": coded("6130")}
    order = request(contained=[medication], medicationReference={"reference": "#k"})
    found = find_ketamine_orders(
        bundle(order), None, lexicon, include_esketamine=False, medications={}
    )
    assert found[0].resource is order
    assert found[0].display == "ketamine infusion"
    assert found[0].resource_type == "MedicationRequest"


@pytest.mark.parametrize(
    "drafts",
    [
        {},
        {"entry": "x"},
        {"entry": [None, 1, "s", {"resource": None}, {"resource": []}, {"fullUrl": 3}]},
        {"entry": {"resource": {"resourceType": "MedicationRequest", "medicationCodeableConcept": 5}}},
        {"entry": [{"resource": {"resourceType": "MedicationRequest", "medicationReference": "Medication/x",
                                 "dosageInstruction": [{"timing": []}], "contained": "x"}}]},
        {"entry": [{"resource": {"resourceType": "ServiceRequest", "code": ["ketamine"],
                                 "occurrencePeriod": "2026"}}]},
        [],
        None,
    ],
)  # fmt: skip
def test_find_when_draft_orders_malformed_never_raises(lexicon: Lexicon, drafts: Any) -> None:
    assert find(lexicon, drafts) == []
    assert find(lexicon, drafts, ("MedicationRequest/1",)) == []
    assert unresolved_medication_references(drafts, None) == ()


def test_find_when_junk_beside_ketamine_still_detects_it(lexicon: Lexicon) -> None:
    drafts = bundle(None, "junk", request(id=7, medicationCodeableConcept=coded("6130")))
    drafts["entry"].insert(0, 42)
    assert find(lexicon, drafts) == ["MedicationRequest/#3"]


def test_find_with_shipped_knowledge_base_detects_sandbox_and_service_orders() -> None:
    shipped = pipeline.lexicon()
    drafts = bundle(
        request(
            "a",
            category={"coding": [{"code": "community"}]},
            medicationCodeableConcept=coded("238084"),
        ),
        {"resourceType": "ServiceRequest", "id": "b", "code": {"text": "Infusion of ketamine"}},
        {"resourceType": "ServiceRequest", "id": "c", "code": {"text": "Ketamine level"}},
        request("d", medicationCodeableConcept={"text": "Spravato 28 MG nasal spray"}),
    )
    assert find(shipped, drafts) == ["MedicationRequest/a", "ServiceRequest/b"]
    assert find(shipped, drafts, esketamine=True)[-1] == "MedicationRequest/d"
