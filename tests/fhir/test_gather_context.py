"""Context keys (a hook's Conditions, Appointments...): read beside the medications, never a 412."""

from __future__ import annotations

import asyncio

import pytest
import respx

from cds_service.cdshooks import prefetch
from cds_service.cdshooks.models import HookRequest
from cds_service.clinical.types import MedicationData
from cds_service.errors import DataUnavailable
from cds_service.fhir.gatherer import MedicationGatherer
from cds_service.fhir.outbound import OutboundPolicy
from cds_service.fhir.reader import FetchLimits
from tests.fhir.builders import gather, hook_request, ids, order, outcome, pools, searchset

pytestmark = pytest.mark.anyio

KEY = "conditions"
_MEDICATIONS = {
    "medicationRequests": searchset(order("r1")),
    "medicationStatements": searchset(),
}


def condition(rid: str) -> dict[str, object]:
    return {"resourceType": "Condition", "id": rid, "code": {"text": "Epilepsy"}}


@pytest.fixture(autouse=True)
def condition_template(monkeypatch: pytest.MonkeyPatch) -> None:
    templates = {**prefetch.TEMPLATES, KEY: "Condition?patient={{context.patientId}}"}
    monkeypatch.setattr(prefetch, "TEMPLATES", templates)


async def test_gather_when_context_key_prefetched_returns_its_resources_beside_medications() -> (
    None
):
    request = hook_request({**_MEDICATIONS, KEY: searchset(condition("c1"))})

    data = await gather(request, context_keys=(KEY,))

    assert ids(data, "MedicationRequest") == ["r1"]
    assert [r["id"] for r in data.context[KEY]] == ["c1"]
    assert data.gaps == ()


async def test_gather_when_context_key_missing_reads_it_from_the_server(
    fhir_server: respx.MockRouter,
) -> None:
    route = fhir_server.get("/Condition").respond(json=searchset(condition("c2")))

    data = await gather(hook_request(_MEDICATIONS), context_keys=(KEY,))

    assert route.called
    assert [r["id"] for r in data.context[KEY]] == ["c2"]


async def test_gather_when_server_lacks_the_context_search_reports_a_gap_not_a_412(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/Condition").respond(404, json=outcome("not-supported", "no Condition"))

    data = await gather(hook_request(_MEDICATIONS), context_keys=(KEY,))

    assert ids(data, "MedicationRequest") == ["r1"]
    assert data.context[KEY] == ()
    assert [g.what for g in data.all_context_gaps] == ["Condition list"]


async def test_gather_when_context_search_fails_reports_a_gap_and_keeps_the_cards_data(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/Condition").respond(503)

    data = await gather(hook_request(_MEDICATIONS), context_keys=(KEY,))

    assert [g.what for g in data.all_context_gaps] == ["Condition list"]


async def test_gather_when_only_context_key_is_read_still_raises_data_unavailable(
    fhir_server: respx.MockRouter,
) -> None:
    # Conditions alone are no medication list: the spec's 412 still applies.
    fhir_server.get("/MedicationStatement").respond(503)
    fhir_server.get("/MedicationRequest").respond(503)
    request = hook_request({KEY: searchset(condition("c1"))})

    with pytest.raises(DataUnavailable):
        await gather(request, context_keys=(KEY,))


async def test_gather_without_context_keys_returns_no_context() -> None:
    data = await gather(hook_request(_MEDICATIONS))

    assert data.context == {}


async def _gather_keys(request: HookRequest) -> MedicationData:
    async with pools() as servers:
        gatherer = MedicationGatherer(servers, OutboundPolicy(local_loopback=True), FetchLimits())
        deadline = asyncio.get_running_loop().time() + 10
        return await gatherer.gather_keys(request, (KEY,), deadline=deadline)


async def test_gather_keys_reads_only_the_keys_asked_for(fhir_server: respx.MockRouter) -> None:
    conditions = fhir_server.get("/Condition").respond(json=searchset(condition("c3")))
    statements = fhir_server.get("/MedicationStatement").respond(json=searchset())

    data = await _gather_keys(hook_request({}))

    assert conditions.called
    assert not statements.called
    assert [r["id"] for r in data.context[KEY]] == ["c3"]
    assert data.resources == ()


async def test_gather_keys_when_the_search_fails_is_a_gap_never_data_unavailable(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/Condition").respond(503)

    data = await _gather_keys(hook_request({}))

    assert data.context[KEY] == ()
    assert [g.what for g in data.all_context_gaps] == ["Condition list"]


async def test_gather_keys_from_complete_prefetch_makes_no_call() -> None:
    data = await _gather_keys(hook_request({KEY: searchset(condition("c4"))}))

    assert [r["id"] for r in data.context[KEY]] == ["c4"]
