"""Benchmark request bodies: a ketamine order-sign call with an N-entry, realistically mixed history."""

from __future__ import annotations

import json
from typing import Any

from cds_service.bench.load import STAMP

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
# The 42 kB shape: 100 compact records, three of them a benzodiazepine, a stimulant and
# lamotrigine (so three cards, two with holds), the rest everyday drugs.
COMPACT_INTERACTING: tuple[tuple[str, str, float, int], ...] = (
    ("197527", "Clonazepam 0.5 MG Oral Tablet", 0.5, 2),
    ("1091170", "Methylphenidate hydrochloride 10 MG Oral Tablet", 10, 2),
    ("198427", "Lamotrigine 100 MG Oral Tablet", 100, 2),
)
SHAPES = ("mixed", "compact")


def hook_request(
    size: int,
    *,
    with_prefetch: bool = True,
    fhir_server: str | None = None,
    variant: int = 0,
    shape: str = "mixed",
    stamp: str = "",
) -> Any:
    """An order-sign call for a ketamine infusion; ``size`` history entries go in prefetch.

    Each ``variant`` differs in its hookInstance, its record ids and the order of its entries, so
    that nothing keyed on a whole request can answer a later one; ``stamp`` (the load driver's
    marker) goes in the hookInstance and the draft order id, which it makes unique per request.
    """
    body: dict[str, Any] = {
        "hook": "order-sign",
        "hookInstance": f"5d0c3f2e-6b1a-4f3e-9a53-{variant:012d}{stamp}",
        "context": {
            "userId": "Practitioner/bench",
            "patientId": PATIENT_ID,
            "draftOrders": {
                "resourceType": "Bundle",
                "entry": [{"resource": ketamine_order(variant, stamp)}],
            },
        },
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if with_prefetch:
        statements, requests = history(size, variant=variant, shape=shape)
        full = shape == "mixed"
        body["prefetch"] = {
            "patient": {"resourceType": "Patient", "id": PATIENT_ID},
            "medicationStatements": searchset(statements, full_urls=full),
            "medicationRequests": searchset(requests, full_urls=full),
            # The patient-context templates, empty, as an EHR following discovery sends them.
            "conditions": searchset([]),
            "socialHistory": searchset([]),
            "bloodPressure": searchset([]),
        }
    return body


def variants(size: int, count: int, shape: str = "mixed") -> list[bytes]:
    """``count`` encoded calls of the same size and shape that differ as ``hook_request`` says,
    each stamped (the load driver numbers every request it sends)."""
    mark = STAMP.decode()
    return [encoded(hook_request(size, variant=v, shape=shape, stamp=mark)) for v in range(count)]


def encoded(body: Any) -> bytes:
    """The JSON bytes sent on the wire."""
    return json.dumps(body, separators=(",", ":")).encode()


def ketamine_order(variant: int = 0, stamp: str = "") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": f"ket-bench-{variant + 1}{stamp}",
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


def history(
    size: int, *, variant: int = 0, shape: str = "mixed"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``size`` records: 3 in 5 MedicationStatements, the rest MedicationRequests."""
    if shape not in SHAPES:
        raise ValueError(f"unknown payload shape {shape!r}: one of {', '.join(SHAPES)}")
    statements: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    build = medication_record if shape == "mixed" else compact_record
    for index in range(size):
        kind = "MedicationStatement" if index % 5 < 3 else "MedicationRequest"
        record = build(index, kind)
        if variant:
            record["id"] = f"{record['id']}-v{variant}"
        (statements if kind == "MedicationStatement" else requests).append(record)
    return _rotated(statements, variant), _rotated(requests, variant)


def _rotated(records: list[dict[str, Any]], variant: int) -> list[dict[str, Any]]:
    if not records:
        return records
    cut = (variant * 7) % len(records)
    return records[cut:] + records[:cut]


def compact_record(index: int, kind: str) -> dict[str, Any]:
    """One entry of the issue's 42 kB shape: a coded drug and a structured dose, nothing else."""
    if index % 33 == 5:
        code, display, mg, per_day = COMPACT_INTERACTING[(index // 33) % len(COMPACT_INTERACTING)]
    else:
        code, display, mg, per_day = PLAIN[index % len(PLAIN)]
    record: dict[str, Any] = {
        "resourceType": kind,
        "id": f"{kind[10:].lower()}-{index}",
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": code, "display": display}]
        },
    }
    if kind == "MedicationRequest":
        record["intent"] = "order"
    dose = {
        "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg"}}],
    }
    record["dosageInstruction" if kind == "MedicationRequest" else "dosage"] = [dose]
    return record


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


def searchset(resources: list[dict[str, Any]], *, full_urls: bool = True) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"urn:bench:{r['resourceType']}/{r['id']}", "resource": r}
            if full_urls
            else {"resource": r}
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
