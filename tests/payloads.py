"""Builders for hook requests and FHIR resources used across the protocol tests."""

from __future__ import annotations

import uuid
from typing import Any

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PATIENT_ID = "pt-protocol-7731"


def ketamine_order(
    order_id: str = "ket-1", start: str | None = "2026-11-28T09:00:00+00:00"
) -> dict[str, Any]:
    timing: dict[str, Any] = {"repeat": {"boundsPeriod": {"start": start}}} if start else {}
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {
            "text": "ketamine HCl 50 mg/mL injection, IV infusion",
            "coding": [{"system": RXNORM, "code": "6130", "display": "ketamine"}],
        },
        "dosageInstruction": [{"text": "0.5 mg/kg IV over 40 minutes", "timing": timing}],
    }


def other_order(order_id: str = "nap-1") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "category": {
            "coding": [{"code": "community"}]
        },  # the Sandbox sends an object, not an array
        "medicationCodeableConcept": {
            "text": "Naproxen 125 MG Oral Tablet",
            "coding": [
                {"system": RXNORM, "code": "245420", "display": "Naproxen 125 MG Oral Tablet"}
            ],
        },
    }


def statement(
    stmt_id: str, code: str, display: str, *, status: str = "active", **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": stmt_id,
        "status": status,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": code, "display": display}]
        },
        **extra,
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


CLONAZEPAM = statement(
    "ms-clonazepam",
    "197527",
    "Clonazepam 0.5 MG Oral Tablet",
    dosage=[
        {
            "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
        }
    ],
    effectivePeriod={"start": "2026-01-10"},
)


def hook_request(
    *orders: dict[str, Any],
    hook: str = "order-sign",
    medications: tuple[dict[str, Any], ...] = (),
    prefetch: dict[str, Any] | None = None,
    selections: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "userId": "Practitioner/COREPRACTITIONER1",
        "patientId": PATIENT_ID,
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]},
    }
    if hook == "order-select":
        context["selections"] = selections or [f"{o['resourceType']}/{o['id']}" for o in orders]
    if prefetch is None:
        prefetch = {
            "medicationStatements": bundle(*medications),
            "medicationRequests": bundle(),
            # The patient-context templates, prefetched empty as an EHR following discovery does.
            "conditions": bundle(),
            "socialHistory": bundle(),
            "bloodPressure": bundle(),
        }
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch,
        **extra,
    }
