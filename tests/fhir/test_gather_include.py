"""One round trip for referenced Medications: searches ask for them with ``_include``, included ones
are used as they come, and only those still missing are read."""

from __future__ import annotations

import pytest
import respx

from tests.fhir.builders import gather, hook_request, ids, medication, order, searchset, statement

pytestmark = pytest.mark.anyio


def _referencing(resource: dict, reference: str) -> dict:
    kept = {k: v for k, v in resource.items() if k != "medicationCodeableConcept"}
    return {**kept, "medicationReference": {"reference": reference}}


def _included(bundle: dict, *medications: dict) -> dict:
    entries = [{"resource": m, "search": {"mode": "include"}} for m in medications]
    return {**bundle, "entry": [*bundle["entry"], *entries]}


async def test_gather_searches_ask_for_referenced_medications_in_the_same_answer(
    fhir_server: respx.MockRouter,
) -> None:
    statements = fhir_server.get("/MedicationStatement").respond(json=searchset())
    requests = fhir_server.get("/MedicationRequest").respond(json=searchset())

    await gather(hook_request())

    assert statements.calls.last.request.url.params["_include"] == "MedicationStatement:medication"
    assert requests.calls.last.request.url.params["_include"] == "MedicationRequest:medication"


async def test_gather_with_included_medications_reads_none_of_them(
    fhir_server: respx.MockRouter,
) -> None:
    reads = fhir_server.get(path__regex=r"/Medication/[^/]+$").respond(json=medication("x"))
    fhir_server.get("/MedicationRequest").respond(
        json=_included(searchset(order("r1", medication="Medication/m1")), medication("m1"))
    )
    fhir_server.get("/MedicationStatement").respond(
        json=_included(searchset(_referencing(statement("s1"), "Medication/m2")), medication("m2"))
    )

    data = await gather(hook_request())

    assert reads.call_count == 0
    assert data.medications["Medication/m1"]["id"] == "m1"
    assert data.medications["Medication/m2"]["id"] == "m2"
    assert ids(data, "MedicationRequest") == ["r1"]
    assert data.gaps == ()


async def test_gather_reads_only_the_referenced_medications_not_included(
    fhir_server: respx.MockRouter,
) -> None:
    reads = fhir_server.get(path__regex=r"/Medication/[^/]+$").respond(json=medication("m2"))
    fhir_server.get("/MedicationRequest").respond(
        json=_included(
            searchset(
                order("r1", medication="Medication/m1"), order("r2", medication="Medication/m2")
            ),
            medication("m1"),
        )
    )
    fhir_server.get("/MedicationStatement").respond(json=searchset())

    data = await gather(hook_request())

    assert [call.request.url.path for call in reads.calls] == ["/fhir/Medication/m2"]
    assert set(data.medications) >= {"Medication/m1", "Medication/m2"}
    assert data.gaps == ()
