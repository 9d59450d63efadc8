"""The gatherer against a real FHIR R4 server (sekmet-fhir), without prefetch, bearer token required."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.cdshooks.models import HookRequest
from cds_service.cdshooks.prefetch import MEDICATION_KEYS, render_query
from cds_service.clinical.types import MedicationData, Origin
from cds_service.errors import DataUnavailable
from cds_service.fhir.connections import ServerPools
from cds_service.fhir.gatherer import MedicationGatherer
from cds_service.fhir.outbound import OutboundPolicy
from cds_service.fhir.reader import UNREADABLE, FetchLimits
from tests.conftest import SERVICE_URL, make_app, make_settings
from tests.integration.conftest import LoadedServer
from tests.payloads import ketamine_order

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
HANDWRITTEN_PATIENT = "ket-lamotrigine"  # tests/fixtures/fhir/handwritten-patients.json


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _request(
    loaded: LoadedServer, patient_id: str, *, token: str | None = None, prefetch: Any = None
) -> HookRequest:
    body: dict[str, Any] = {
        "hook": "order-sign",
        "hookInstance": "7d0b3f4e-9a1c-4a3e-8f1e-2b9c1d2e3f40",
        "fhirServer": loaded.server.base_url,
        "fhirAuthorization": {
            "access_token": token or loaded.server.token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "ketamine-cds",
        },
        "context": {
            "userId": "Practitioner/p1",
            "patientId": patient_id,
            "draftOrders": {"resourceType": "Bundle", "entry": []},
        },
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return HookRequest.model_validate(body)


async def _gather(request: HookRequest, *, max_pages: int = 10) -> MedicationData:
    # The local server runs on loopback: the policy of local development lets it be called.
    pools = ServerPools(max_connections=10)
    limits = FetchLimits(timeout_seconds=5.0, max_pages=max_pages)
    try:
        gatherer = MedicationGatherer(pools, OutboundPolicy(local_loopback=True), limits)
        deadline = asyncio.get_running_loop().time() + 20
        return await gatherer.gather(request, deadline=deadline)
    finally:
        await pools.aclose()


def _codes(data: MedicationData) -> dict[str, str]:
    """RxNorm code -> status, for the records that carry a code of their own."""
    found: dict[str, str] = {}
    for sourced in data.resources:
        concept = sourced.resource.get("medicationCodeableConcept", {})
        for coding in concept.get("coding", []):
            found[coding["code"]] = sourced.resource["status"]
    return found


@pytest.mark.reference_data
async def test_gather_from_server_reads_alberto_benzodiazepine_and_inducer(
    sekmet: LoadedServer,
) -> None:
    data = await _gather(_request(sekmet, sekmet.patients["Alberto"]))

    assert _codes(data)["1153378"] == "active"  # clonazepam
    assert _codes(data)["308971"] == "active"  # carbamazepine
    assert {s.origin for s in data.resources} == {Origin.FHIR_SERVER}
    assert data.gaps == ()


@pytest.mark.reference_data
async def test_gather_from_server_includes_stopped_orders(sekmet: LoadedServer) -> None:
    data = await _gather(_request(sekmet, sekmet.patients["Rachael"]))

    assert _codes(data)["1153378"] == "stopped"


@pytest.mark.reference_data
async def test_gather_from_server_follows_every_page_of_a_long_history(
    sekmet: LoadedServer,
) -> None:
    data = await _gather(_request(sekmet, sekmet.patients["bulk"]), max_pages=20)

    ids = {s.resource["id"] for s in data.resources}
    assert len(ids) == sekmet.bulk_orders == 1036
    assert data.gaps == ()


@pytest.mark.reference_data
async def test_gather_from_server_stops_at_the_page_cap_and_says_so(sekmet: LoadedServer) -> None:
    data = await _gather(_request(sekmet, sekmet.patients["bulk"]), max_pages=3)

    assert len(data.resources) == 300
    assert [(g.what, g.reason) for g in data.gaps] == [
        ("MedicationRequest list", "more than 3 pages, only the first 3 read")
    ]


async def test_gather_from_server_reads_handwritten_statements(sekmet: LoadedServer) -> None:
    lamotrigine = await _gather(_request(sekmet, "ket-lamotrigine"))
    maoi = await _gather(_request(sekmet, "ket-maoi"))
    text_only = await _gather(_request(sekmet, "ket-textonly"))

    assert [s.resource["id"] for s in lamotrigine.resources] == ["ket-lamotrigine-ms"]
    (stopped,) = maoi.resources
    assert stopped.resource["status"] == "stopped"
    assert stopped.resource["effectivePeriod"]["end"] != "${DAYS_AGO_5}"
    (record,) = text_only.resources
    assert record.resource["medicationCodeableConcept"] == {"text": "clonazepam 0.5 mg at night"}


async def test_gather_from_server_reads_a_separate_medication_but_not_a_contained_one(
    sekmet: LoadedServer,
) -> None:
    epic = await _gather(_request(sekmet, "ket-epic"))
    contained = await _gather(_request(sekmet, "ket-contained"))

    assert epic.medications["Medication/ket-epic-med"]["code"]["coding"][0]["code"] == "10734"
    assert contained.medications == {}
    assert contained.resources[0].resource["contained"][0]["id"] == "med1"
    assert epic.gaps == contained.gaps == ()


async def test_gather_from_server_with_a_wrong_token_is_data_unavailable(
    sekmet: LoadedServer,
) -> None:
    with pytest.raises(DataUnavailable) as caught:
        await _gather(_request(sekmet, HANDWRITTEN_PATIENT, token="not-the-token"))

    assert caught.value.failures == (
        f"MedicationStatement list: {UNREADABLE}",
        f"MedicationRequest list: {UNREADABLE}",
    )


@pytest.mark.reference_data
async def test_gather_with_prefetch_equals_gather_without(sekmet: LoadedServer) -> None:
    patient_id = sekmet.patients["Gerardo"]
    fetched = await _gather(_request(sekmet, patient_id))
    url = f"{sekmet.server.base_url}/MedicationRequest?patient={patient_id}&_count=1000"
    async with httpx.AsyncClient(headers=sekmet.server.headers()) as client:
        prefetched_bundle = (await client.get(url)).json()

    prefetched = await _gather(
        _request(sekmet, patient_id, prefetch={"medicationRequests": prefetched_bundle})
    )

    assert {s.resource["id"] for s in prefetched.resources} == {
        s.resource["id"] for s in fetched.resources
    }
    assert {s.origin for s in prefetched.resources} == {Origin.PREFETCH}


# ---------------------------------------------------------------- hook calls through the app


def _hook_body(loaded: LoadedServer, patient_id: str, **extra: Any) -> dict[str, Any]:
    order = ketamine_order()
    order["subject"] = {"reference": f"Patient/{patient_id}"}
    body = _request(loaded, patient_id).model_dump(mode="json", exclude_none=True)
    body["hookInstance"] = str(uuid.uuid4())
    body["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": order}]}
    body.pop("prefetch", None)
    return {**body, **extra}


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(make_settings(tmp_path))) as client:
        yield client


def _summaries(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(card["summary"] for card in response.json()["cards"])


def _full_prefetch(loaded: LoadedServer, patient_id: str) -> dict[str, Any]:
    prefetch = {}
    for key in MEDICATION_KEYS:
        query = render_query(key, patient_id)
        url = f"{loaded.server.base_url}/{query.relative_url.replace('_count=100', '_count=1000')}"
        prefetch[key] = httpx.get(url, headers=loaded.server.headers(), timeout=10).json()
    return prefetch


@pytest.mark.parametrize(
    ("patient", "drug"),
    [
        pytest.param("Alberto", "clonazepam", marks=pytest.mark.reference_data),
        ("ket-lamotrigine", "lamotrigine"),
        ("ket-maoi", "phenelzine"),
        ("ket-epic", "tranylcypromine"),
        ("ket-contained", "lorazepam"),
    ],
)
def test_hook_call_without_prefetch_reads_the_server_and_warns(
    sekmet: LoadedServer, app_client: TestClient, patient: str, drug: str
) -> None:
    patient_id = sekmet.patients.get(patient, patient)  # a Synthea name, or a hand-written id

    response = app_client.post(SERVICE_URL, json=_hook_body(sekmet, patient_id))

    assert any(drug in summary.lower() for summary in _summaries(response)), response.json()


@pytest.mark.reference_data
def test_hook_call_cards_match_with_full_partial_and_no_prefetch(
    sekmet: LoadedServer, app_client: TestClient
) -> None:
    patient_id = sekmet.patients["Alberto"]
    full = _full_prefetch(sekmet, patient_id)
    partial = {"medicationRequests": full["medicationRequests"]}

    answers = [
        _summaries(app_client.post(SERVICE_URL, json=_hook_body(sekmet, patient_id, **extra)))
        for extra in ({}, {"prefetch": full}, {"prefetch": partial})
    ]

    assert answers[0], "Alberto's clonazepam should raise a card"
    assert answers[0] == answers[1] == answers[2]


def test_hook_call_with_a_refused_token_answers_412(
    sekmet: LoadedServer, app_client: TestClient
) -> None:
    body = _hook_body(sekmet, HANDWRITTEN_PATIENT)
    body["fhirAuthorization"]["access_token"] = "wrong-token"

    response = app_client.post(SERVICE_URL, json=body)

    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    # Only the kind of failure reaches the caller; the upstream status stays in the log.
    assert UNREADABLE in response.json()["issue"][0]["diagnostics"]
    assert "401" not in response.text
