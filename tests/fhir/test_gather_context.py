"""Context keys (a hook's Conditions, Appointments...): read beside the medications, never a 412."""

from __future__ import annotations

import pytest
import respx

from cds_service.cdshooks import prefetch
from cds_service.errors import DataUnavailable
from tests.fhir.builders import gather, hook_request, ids, order, outcome, searchset

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
    assert [g.what for g in data.gaps] == ["Condition list"]


async def test_gather_when_context_search_fails_reports_a_gap_and_keeps_the_cards_data(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/Condition").respond(503)

    data = await gather(hook_request(_MEDICATIONS), context_keys=(KEY,))

    assert [g.what for g in data.gaps] == ["Condition list"]


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
