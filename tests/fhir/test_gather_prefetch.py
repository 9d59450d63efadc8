"""Prefetch semantics: a Bundle is used, null means no data, missing or OperationOutcome is fetched."""

from __future__ import annotations

import pytest
import respx

from cds_service.clinical.types import Origin
from tests.fhir.builders import (
    BASE,
    PATIENT_ID,
    TOKEN,
    gather,
    hook_request,
    ids,
    medication,
    order,
    outcome,
    searchset,
    statement,
)

pytestmark = pytest.mark.anyio


async def test_gather_when_both_keys_prefetched_uses_them_without_queries(
    fhir_server: respx.MockRouter,
) -> None:
    search = fhir_server.get(path__regex=r".*").respond(500)
    request = hook_request(
        {
            "medicationStatements": searchset(statement("s1")),
            "medicationRequests": searchset(order("r1"), order("r2")),
        }
    )

    data = await gather(request)

    assert search.call_count == 0
    assert ids(data, "MedicationStatement") == ["s1"]
    assert ids(data, "MedicationRequest") == ["r1", "r2"]
    assert {(s.origin, s.source_key) for s in data.resources} == {
        (Origin.PREFETCH, "medicationStatements"),
        (Origin.PREFETCH, "medicationRequests"),
    }
    assert data.gaps == ()


async def test_gather_when_key_is_null_returns_no_data_and_sends_no_query(
    fhir_server: respx.MockRouter,
) -> None:
    statements = fhir_server.get("/MedicationStatement").respond(json=searchset(statement("s1")))
    request = hook_request(
        {"medicationStatements": None, "medicationRequests": searchset(order("r1"))}
    )

    data = await gather(request)

    assert statements.call_count == 0
    assert ids(data, "MedicationStatement") == []
    assert ids(data, "MedicationRequest") == ["r1"]
    assert data.gaps == ()


async def test_gather_when_key_missing_fetches_it_with_the_bearer_token(
    fhir_server: respx.MockRouter,
) -> None:
    statements = fhir_server.get("/MedicationStatement", params={"patient": PATIENT_ID}).respond(
        json=searchset(statement("s9"))
    )
    request = hook_request({"medicationRequests": searchset(order("r1"))})

    data = await gather(request)

    assert statements.call_count == 1
    assert statements.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    fetched = [s for s in data.resources if s.resource["id"] == "s9"]
    assert [(s.origin, s.source_key) for s in fetched] == [
        (Origin.FHIR_SERVER, "medicationStatements")
    ]


async def test_gather_when_prefetch_is_operation_outcome_fetches_the_data_itself(
    fhir_server: respx.MockRouter,
) -> None:
    requests = fhir_server.get("/MedicationRequest").respond(json=searchset(order("r7")))
    request = hook_request(
        {"medicationStatements": searchset(), "medicationRequests": outcome(diagnostics="timeout")}
    )

    data = await gather(request)

    assert requests.call_count == 1
    assert ids(data, "MedicationRequest") == ["r7"]
    assert data.gaps == ()


async def test_gather_when_prefetch_is_operation_outcome_and_no_server_reports_a_gap() -> None:
    request = hook_request(
        {"medicationStatements": searchset(statement("s1")), "medicationRequests": outcome()},
        fhir_server=None,
        token=None,
    )

    data = await gather(request)

    assert [g.what for g in data.gaps] == ["MedicationRequest list"]
    assert "OperationOutcome" in data.gaps[0].reason


async def test_gather_when_prefetch_bundle_has_next_link_follows_it_with_the_token(
    fhir_server: respx.MockRouter,
) -> None:
    page2 = fhir_server.get("/MedicationRequest", params={"_page": "2"}).respond(
        json=searchset(order("r2"))
    )
    request = hook_request(
        {
            "medicationStatements": searchset(),
            "medicationRequests": searchset(
                order("r1"), next_url=f"{BASE}/MedicationRequest?patient={PATIENT_ID}&_page=2"
            ),
        }
    )

    data = await gather(request)

    assert page2.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert ids(data, "MedicationRequest") == ["r1", "r2"]
    assert {s.origin for s in data.resources} == {Origin.PREFETCH}


async def test_gather_when_bundle_carries_medications_keys_them_by_id_and_full_url(
    fhir_server: respx.MockRouter,
) -> None:
    reads = fhir_server.get(path__regex=r".*/Medication/.*").respond(json=medication("m1"))
    bundle = searchset(order("r1", medication="Medication/m1"), medication("m1"))
    bundle["entry"].append({"resource": outcome(code="informational")})
    request = hook_request({"medicationStatements": None, "medicationRequests": bundle})

    data = await gather(request)

    assert reads.call_count == 0
    assert data.medications["Medication/m1"]["id"] == "m1"
    assert data.medications[f"{BASE}/Medication/m1"]["id"] == "m1"
    assert ids(data, "MedicationRequest") == ["r1"]


async def test_gather_when_prefetch_bundle_holds_other_types_keeps_only_the_searched_type() -> None:
    bundle = searchset(statement("s1"), order("r-misplaced"))
    request = hook_request({"medicationStatements": bundle, "medicationRequests": None})

    data = await gather(request)

    assert [s.resource["id"] for s in data.resources] == ["s1"]
