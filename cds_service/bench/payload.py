"""Benchmark request bodies: a ketamine order-sign call with an N-entry, realistically mixed history."""

from __future__ import annotations

import json
from typing import Any

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PATIENT_ID = "bench-patient-1"
SERVICE_PATH = "/cds-services/ketamine-infusion-check"

# (RxNorm code, display, mg per dose, doses per day): everyday drugs that interact with nothing here.
PLAIN: tuple[tuple[str, str, float, int], ...] = (
    ("314076", "Lisinopril 10 MG Oral Tablet", 10, 1),
    ("861007", "Metformin hydrochloride 500 MG Oral Tablet", 500, 2),
    ("617310", "Atorvastatin 20 MG Oral Tablet", 20, 1),
    ("197361", "Amlodipine 5 MG Oral Tablet", 5, 1),
    ("979485", "Losartan Potassium 50 MG Oral Tablet", 50, 1),
    ("310798", "Hydrochlorothiazide 25 MG Oral Tablet", 25, 1),
    ("198440", "Acetaminophen 500 MG Oral Tablet", 500, 3),
    ("866924", "Metoprolol Tartrate 25 MG Oral Tablet", 25, 2),
    ("308136", "Amoxicillin 500 MG Oral Capsule", 500, 3),
    ("197381", "Atenolol 50 MG Oral Tablet", 50, 1),
)
# Drugs the knowledge base has cards for (benzodiazepine, opioid, lamotrigine, Z-drug).
INTERACTING: tuple[tuple[str, str, float, int], ...] = (
    ("197527", "Clonazepam 0.5 MG Oral Tablet", 0.5, 2),
    ("1049621", "Oxycodone Hydrochloride 5 MG Oral Tablet", 5, 4),
    ("198427", "Lamotrigine 100 MG Oral Tablet", 100, 2),
    ("854873", "Zolpidem tartrate 10 MG Oral Tablet", 10, 1),
)
TEXT_ONLY: tuple[str, ...] = ("Fish oil 1000 mg capsule daily", "Vitamin D3 2000 units daily")


def hook_request(size: int, *, with_prefetch: bool = True, fhir_server: str | None = None) -> Any:
    """An order-sign call for a ketamine infusion; ``size`` history entries go in prefetch."""
    body: dict[str, Any] = {
        "hook": "order-sign",
        "hookInstance": "5d0c3f2e-6b1a-4f3e-9a53-bench0000001",
        "context": {
            "userId": "Practitioner/bench",
            "patientId": PATIENT_ID,
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": ketamine_order()}]},
        },
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if with_prefetch:
        statements, requests = history(size)
        body["prefetch"] = {
            "patient": {"resourceType": "Patient", "id": PATIENT_ID},
            "medicationStatements": searchset(statements),
            "medicationRequests": searchset(requests),
            # The patient-context templates, empty, as an EHR following discovery sends them.
            "conditions": searchset([]),
            "socialHistory": searchset([]),
            "bloodPressure": searchset([]),
        }
    return body


def encoded(body: Any) -> bytes:
    """The JSON bytes sent on the wire."""
    return json.dumps(body, separators=(",", ":")).encode()


def ketamine_order() -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "ket-bench-1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": "6130", "display": "ketamine"}],
            "text": "Ketamine 0.5 mg/kg IV infusion over 40 minutes",
        },
        "dosageInstruction": [
            {
                "text": "0.5 mg/kg IV over 40 minutes",
                "timing": {"event": ["2026-12-01T09:00:00-05:00"]},
                "route": {"text": "intravenous"},
            }
        ],
    }


def history(size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``size`` records: 3 in 5 MedicationStatements, the rest MedicationRequests."""
    statements: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    for index in range(size):
        kind = "MedicationStatement" if index % 5 < 3 else "MedicationRequest"
        record = medication_record(index, kind)
        (statements if kind == "MedicationStatement" else requests).append(record)
    return statements, requests


def medication_record(index: int, kind: str) -> dict[str, Any]:
    """One history entry; about 1 in 20 interacts, 1 in 25 is text-only, 1 in 30 is contained."""
    record: dict[str, Any] = {
        "resourceType": kind,
        "id": f"{kind[10:].lower()}-{index}",
        "status": "active" if index % 7 else "completed",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if kind == "MedicationRequest":
        record["intent"] = "order"
        record["authoredOn"] = "2026-10-01"
    else:
        record["effectivePeriod"] = {"start": "2026-01-10"}
    code, display, mg, per_day = _drug(index)
    concept = _concept(index, code, display)
    if index % 30 == 29:
        record["contained"] = [{"resourceType": "Medication", "id": "m1", "code": concept}]
        record["medicationReference"] = {"reference": "#m1"}
    else:
        record["medicationCodeableConcept"] = concept
    dosage_key = "dosageInstruction" if kind == "MedicationRequest" else "dosage"
    record[dosage_key] = [_dosage(mg, per_day)]
    return record


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"urn:bench:{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }


def _drug(index: int) -> tuple[str, str, float, int]:
    if index % 20 == 3:
        return INTERACTING[(index // 20) % len(INTERACTING)]
    return PLAIN[index % len(PLAIN)]


def _concept(index: int, code: str, display: str) -> dict[str, Any]:
    if index % 25 == 11:
        return {"text": TEXT_ONLY[(index // 25) % len(TEXT_ONLY)]}
    return {"coding": [{"system": RXNORM, "code": code, "display": display}], "text": display}


def _dosage(mg: float, per_day: int) -> dict[str, Any]:
    return {
        "text": f"{mg:g} mg by mouth {per_day} times a day",
        "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
        "route": {
            "coding": [{"system": "http://snomed.info/sct", "code": "26643006", "display": "Oral"}]
        },
        "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg", "code": "mg"}}],
    }
