"""Small FHIR and hook-request builders for the data-access tests (facts are hand-written)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cds_service.cdshooks.models import HookRequest
from cds_service.clinical.types import JsonObject, MedicationData
from cds_service.fhir.connections import ServerPools
from cds_service.fhir.gatherer import MedicationGatherer
from cds_service.fhir.outbound import OutboundPolicy
from cds_service.fhir.reader import FetchLimits

BASE = "https://ehr.example.org/fhir"
TOKEN = "tok-9f8e7d6c-secret"
PATIENT_ID = "pat-4711"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# Mocked servers answer at once; these limits only stop a broken test from hanging, so they are wide.
SAFETY_NET_SECONDS = 10.0


def statement(rid: str, display: str = "Lamotrigine 100 MG Oral Tablet") -> JsonObject:
    return {
        "resourceType": "MedicationStatement",
        "id": rid,
        "status": "active",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {"text": display},
    }


def order(rid: str, *, medication: str | None = None, display: str = "Clonazepam") -> JsonObject:
    resource: JsonObject = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if medication is None:
        resource["medicationCodeableConcept"] = {"text": display}
    else:
        resource["medicationReference"] = {"reference": medication}
    return resource


def medication(rid: str, code: str = "6470", display: str = "lorazepam") -> JsonObject:
    return {
        "resourceType": "Medication",
        "id": rid,
        "code": {"coding": [{"system": RXNORM, "code": code, "display": display}]},
    }


def searchset(*resources: JsonObject, next_url: str | None = None) -> JsonObject:
    bundle: JsonObject = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }
    if next_url is not None:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def outcome(code: str = "exception", diagnostics: str = "prefetch failed") -> JsonObject:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


def hook_request(
    prefetch: dict[str, Any] | None = None,
    *,
    fhir_server: str | None = BASE,
    token: str | None = TOKEN,
) -> HookRequest:
    body: dict[str, Any] = {
        "hook": "order-sign",
        "hookInstance": "0b4c1b2e-8a61-4c38-9d55-1f0f2b9f6b11",
        "context": {
            "userId": "Practitioner/p1",
            "patientId": PATIENT_ID,
            "draftOrders": {"resourceType": "Bundle", "entry": []},
        },
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if token is not None:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/MedicationRequest.read patient/MedicationStatement.read",
            "subject": "ketamine-cds",
        }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return HookRequest.model_validate(body)


async def gather(
    request: HookRequest,
    *,
    timeout_seconds: float = SAFETY_NET_SECONDS,
    max_pages: int = 5,
    allow_insecure_fhir: bool = False,
    max_bundle_entries: int = 1000,
    budget_seconds: float = 3 * SAFETY_NET_SECONDS,
    policy: OutboundPolicy | None = None,
    context_keys: tuple[str, ...] = (),
    **limits: Any,
) -> MedicationData:
    """One gather with its own pools; the policy is local development's unless one is given."""
    policy = policy or OutboundPolicy(local_loopback=True, allow_insecure=allow_insecure_fhir)
    fetch = FetchLimits(
        timeout_seconds=timeout_seconds,
        max_pages=max_pages,
        max_bundle_entries=max_bundle_entries,
        **limits,
    )
    async with pools() as servers:
        gatherer = MedicationGatherer(servers, policy, fetch)
        deadline = asyncio.get_running_loop().time() + budget_seconds
        return await gatherer.gather(request, deadline=deadline, context_keys=context_keys)


@asynccontextmanager
async def pools(**options: Any) -> AsyncIterator[ServerPools]:
    servers = ServerPools(**{"max_connections": 10, **options})
    try:
        yield servers
    finally:
        await servers.aclose()


def ids(data: MedicationData, resource_type: str) -> list[str]:
    return [
        str(s.resource["id"]) for s in data.resources if s.resource["resourceType"] == resource_type
    ]
