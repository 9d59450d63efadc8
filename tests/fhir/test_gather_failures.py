"""Failing visibly: one source down is a gap, every source down is DataUnavailable, nothing hangs."""

from __future__ import annotations

import asyncio

import anyio
import httpx
import pytest
import respx

from cds_service.errors import DataUnavailable
from tests.fhir.builders import (
    SAFETY_NET_SECONDS,
    gather,
    hook_request,
    ids,
    order,
    outcome,
    searchset,
)

pytestmark = pytest.mark.anyio

_REQUESTS_PREFETCHED = {"medicationRequests": searchset(order("r1"))}


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
async def test_gather_when_statement_search_fails_with_status_reports_a_gap(
    fhir_server: respx.MockRouter, status: int
) -> None:
    fhir_server.get("/MedicationStatement").respond(status, json=outcome(diagnostics="nope"))

    data = await gather(hook_request(_REQUESTS_PREFETCHED))

    assert ids(data, "MedicationRequest") == ["r1"]
    assert [(g.what, g.reason) for g in data.gaps] == [
        ("MedicationStatement list", f"FHIR server answered {status}")
    ]


async def test_gather_when_every_search_fails_raises_data_unavailable_naming_each(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/MedicationStatement").respond(401)
    fhir_server.get("/MedicationRequest").respond(503)

    with pytest.raises(DataUnavailable) as caught:
        await gather(hook_request())

    assert caught.value.failures == (
        "MedicationStatement list: FHIR server answered 401",
        "MedicationRequest list: FHIR server answered 503",
    )
    assert "MedicationRequest list: FHIR server answered 503" in caught.value.message


async def test_gather_when_no_prefetch_and_no_fhir_server_raises_data_unavailable() -> None:
    with pytest.raises(DataUnavailable) as caught:
        await gather(hook_request(fhir_server=None, token=None))

    assert len(caught.value.failures) == 2
    assert all("no fhirServer given" in f for f in caught.value.failures)


async def test_gather_when_server_times_out_reports_the_timeout(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/MedicationStatement").mock(side_effect=httpx.ReadTimeout("slow"))

    data = await gather(hook_request(_REQUESTS_PREFETCHED), timeout_seconds=2.0)

    assert [g.reason for g in data.gaps] == ["FHIR server timed out after 2.0 s"]


async def test_gather_when_server_unreachable_reports_it(fhir_server: respx.MockRouter) -> None:
    fhir_server.get("/MedicationStatement").mock(side_effect=httpx.ConnectError("refused"))

    data = await gather(hook_request(_REQUESTS_PREFETCHED))

    assert [g.reason for g in data.gaps] == ["FHIR server could not be reached (ConnectError)"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>maintenance</html>", "FHIR server sent a body that is not JSON"),
        (b"", "FHIR server sent a body that is not JSON"),
        (b'{"hello": "world"}', "FHIR server sent JSON that is not a FHIR resource"),
        (b"[1, 2]", "FHIR server sent JSON that is not a FHIR resource"),
        (
            b'{"resourceType": "Patient", "id": "x"}',
            "FHIR server sent expected a Bundle, got Patient",
        ),
        (
            b'{"resourceType": "Bundle", "entry": {"a": 1}}',
            "FHIR server sent Bundle.entry is not a list",
        ),
    ],
)
async def test_gather_when_body_is_not_a_fhir_bundle_reports_a_gap(
    fhir_server: respx.MockRouter, body: bytes, reason: str
) -> None:
    fhir_server.get("/MedicationStatement").respond(200, content=body)

    data = await gather(hook_request(_REQUESTS_PREFETCHED))

    assert [g.reason for g in data.gaps] == [reason]


async def _hang(request: httpx.Request) -> httpx.Response:
    await asyncio.Event().wait()  # never answers: only the evaluation deadline can end the call
    raise AssertionError("unreachable")


async def test_gather_when_server_hangs_is_cut_off_by_the_deadline(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/MedicationStatement").mock(side_effect=_hang)

    with anyio.fail_after(SAFETY_NET_SECONDS):  # a deadline that did not cut in fails, not hangs
        data = await gather(
            hook_request(_REQUESTS_PREFETCHED), timeout_seconds=60, budget_seconds=0.3
        )

    assert [g.what for g in data.gaps] == ["MedicationStatement list"]
    assert "deadline" in data.gaps[0].reason


async def test_gather_when_every_server_call_hangs_raises_within_the_deadline(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get(path__regex=r".*").mock(side_effect=_hang)

    with anyio.fail_after(SAFETY_NET_SECONDS), pytest.raises(DataUnavailable) as caught:
        await gather(hook_request(), timeout_seconds=60, budget_seconds=0.3)

    assert caught.value.failures
    assert all("deadline" in failure for failure in caught.value.failures)


async def test_gather_when_a_later_page_fails_keeps_the_first_and_reports_a_gap(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/MedicationRequest", params={"_page": "2"}).respond(500)
    first = searchset(
        order("r1"), next_url="https://ehr.example.org/fhir/MedicationRequest?_page=2"
    )
    request = hook_request({"medicationStatements": None, "medicationRequests": first})

    data = await gather(request)

    assert ids(data, "MedicationRequest") == ["r1"]
    assert [g.reason for g in data.gaps] == ["only 1 page(s) read: FHIR server answered 500"]


async def test_gather_when_both_type_searches_are_404_raises_data_unavailable(
    fhir_server: respx.MockRouter,
) -> None:
    # A wrong fhirServer base answers 404 to everything: that is no medication list, not an empty one.
    fhir_server.get("/MedicationStatement").respond(404)
    fhir_server.get("/MedicationRequest").respond(404)

    with pytest.raises(DataUnavailable) as caught:
        await gather(hook_request())

    assert caught.value.failures == (
        "MedicationStatement list: the FHIR server does not support this resource type",
        "MedicationRequest list: the FHIR server does not support this resource type",
    )


async def test_gather_when_one_type_unsupported_and_the_other_fails_raises_data_unavailable(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/MedicationStatement").respond(400, json=outcome(code="not-supported"))
    fhir_server.get("/MedicationRequest").respond(503)

    with pytest.raises(DataUnavailable) as caught:
        await gather(hook_request())

    assert caught.value.failures[1] == "MedicationRequest list: FHIR server answered 503"


async def test_gather_when_prefetch_says_every_type_unsupported_raises_data_unavailable() -> None:
    unsupported = outcome(code="not-supported")
    prefetch = {"medicationStatements": unsupported, "medicationRequests": unsupported}

    with pytest.raises(DataUnavailable):
        await gather(hook_request(prefetch, fhir_server=None, token=None))
