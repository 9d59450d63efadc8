"""Failing visibly: one source down is a gap, every source down is DataUnavailable, nothing hangs."""

from __future__ import annotations

import asyncio

import anyio
import httpx
import pytest
import respx

from cds_service.errors import DataUnavailable
from cds_service.fhir.reader import TIMED_OUT, UNREACHABLE, UNREADABLE
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
async def test_gather_when_statement_search_fails_with_status_reports_a_gap_without_the_status(
    fhir_server: respx.MockRouter, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    fhir_server.get("/MedicationStatement").respond(status, json=outcome(diagnostics="nope"))

    data = await gather(hook_request(_REQUESTS_PREFETCHED))

    assert ids(data, "MedicationRequest") == ["r1"]
    # The caller learns the kind of failure; the status (which maps internal ports) is only logged.
    assert [(g.what, g.reason) for g in data.gaps] == [("MedicationStatement list", UNREADABLE)]
    assert f"answered {status}" in caplog.text


async def test_gather_when_every_search_fails_raises_data_unavailable_naming_each(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/MedicationStatement").respond(401)
    fhir_server.get("/MedicationRequest").respond(503)

    with pytest.raises(DataUnavailable) as caught:
        await gather(hook_request())

    assert caught.value.failures == (
        f"MedicationStatement list: {UNREADABLE}",
        f"MedicationRequest list: {UNREADABLE}",
    )
    assert f"MedicationRequest list: {UNREADABLE}" in caught.value.message
    assert "503" not in caught.value.message


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

    assert [g.reason for g in data.gaps] == [TIMED_OUT]


async def test_gather_when_server_unreachable_reports_it(fhir_server: respx.MockRouter) -> None:
    fhir_server.get("/MedicationStatement").mock(side_effect=httpx.ConnectError("refused"))

    data = await gather(hook_request(_REQUESTS_PREFETCHED))

    assert [g.reason for g in data.gaps] == [UNREACHABLE]


@pytest.mark.parametrize(
    ("body", "logged"),
    [
        (b"<html>maintenance</html>", "a body that is not JSON"),
        (b"", "a body that is not JSON"),
        (b'{"hello": "world"}', "JSON that is not a FHIR resource"),
        (b"[1, 2]", "JSON that is not a FHIR resource"),
        (b'{"resourceType": "Patient", "id": "x"}', "expected a Bundle, got Patient"),
        (b'{"resourceType": "Bundle", "entry": {"a": 1}}', "Bundle.entry is not a list"),
    ],
)
async def test_gather_when_body_is_not_a_fhir_bundle_reports_a_gap_and_logs_why(
    fhir_server: respx.MockRouter, caplog: pytest.LogCaptureFixture, body: bytes, logged: str
) -> None:
    fhir_server.get("/MedicationStatement").respond(200, content=body)

    data = await gather(hook_request(_REQUESTS_PREFETCHED))

    assert [g.reason for g in data.gaps] == [UNREADABLE]
    assert logged in caplog.text


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

    assert [(g.what, g.reason) for g in data.gaps] == [("MedicationStatement list", TIMED_OUT)]


async def test_gather_when_every_server_call_hangs_raises_within_the_deadline(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get(path__regex=r".*").mock(side_effect=_hang)

    with anyio.fail_after(SAFETY_NET_SECONDS), pytest.raises(DataUnavailable) as caught:
        await gather(hook_request(), timeout_seconds=60, budget_seconds=0.3)

    assert caught.value.failures
    assert all(TIMED_OUT in failure for failure in caught.value.failures)


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
    assert [g.reason for g in data.gaps] == [f"only 1 page(s) read: {UNREADABLE}"]


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

    assert caught.value.failures[1] == f"MedicationRequest list: {UNREADABLE}"


async def test_gather_when_prefetch_says_every_type_unsupported_raises_data_unavailable() -> None:
    unsupported = outcome(code="not-supported")
    prefetch = {"medicationStatements": unsupported, "medicationRequests": unsupported}

    with pytest.raises(DataUnavailable):
        await gather(hook_request(prefetch, fhir_server=None, token=None))


@pytest.mark.parametrize(
    "next_url",
    [
        "http://[::1",
        "https://ehr.example.org:99999/fhir/MedicationRequest",
        "https://ehr.example.org/fhir/MedicationRequest?p=\x00",
    ],
)
async def test_gather_when_next_link_is_not_a_valid_url_keeps_the_page_and_reports_a_gap(
    fhir_server: respx.MockRouter, next_url: str
) -> None:
    fhir_server.route().respond(json=searchset())
    first = searchset(order("r1"), next_url=next_url)

    data = await gather(hook_request({"medicationStatements": None, "medicationRequests": first}))

    assert ids(data, "MedicationRequest") == ["r1"]
    assert [g.what for g in data.gaps] == ["MedicationRequest list"]
