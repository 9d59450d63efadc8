"""Token handling: only to the request's https (or loopback) fhirServer, never logged."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from cds_service.errors import DataUnavailable
from cds_service.fhir.outbound import OutboundPolicy
from tests.fhir.builders import (
    PATIENT_ID,
    TOKEN,
    gather,
    hook_request,
    ids,
    order,
    searchset,
    statement,
)

pytestmark = pytest.mark.anyio


async def test_gather_without_fhir_authorization_sends_no_authorization_header(
    fhir_server: respx.MockRouter,
) -> None:
    search = fhir_server.get("/MedicationStatement").respond(json=searchset(statement("s1")))

    await gather(hook_request({"medicationRequests": None}, token=None))

    assert "Authorization" not in search.calls.last.request.headers


async def test_gather_never_logs_the_token_or_the_patient_id(
    fhir_server: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fhir_server.get("/MedicationStatement").respond(500)
    fhir_server.get("/MedicationRequest").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(DataUnavailable) as caught:
        await gather(hook_request())

    assert caplog.records, "the failures should have been logged"
    logged = caplog.text + str(caught.value)
    assert TOKEN not in logged
    assert PATIENT_ID not in logged
    assert "ehr.example.org/fhir/MedicationStatement" in caplog.text


@pytest.mark.parametrize("server", ["http://ehr.example.org/fhir", "ftp://ehr.example.org/fhir"])
async def test_gather_when_fhir_server_is_not_https_refuses_to_call_it(server: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        anything = router.route().respond(json=searchset())
        with pytest.raises(DataUnavailable) as caught:
            await gather(hook_request(fhir_server=server))

    assert anything.call_count == 0
    assert "http(s)" in caught.value.message or "not https" in caught.value.message


@pytest.mark.parametrize(
    "server", ["http://127.0.0.1:8090/fhir", "http://localhost:8090/fhir", "http://[::1]:8090/fhir"]
)
async def test_gather_when_fhir_server_is_plain_http_on_loopback_calls_it(server: str) -> None:
    with respx.mock(base_url=server) as router:
        router.get("/MedicationStatement").respond(json=searchset(statement("s1")))
        data = await gather(hook_request({"medicationRequests": None}, fhir_server=server))

    assert ids(data, "MedicationStatement") == ["s1"]


async def test_gather_when_insecure_fhir_allowed_and_listed_calls_plain_http() -> None:
    server = "http://ehr.internal/fhir"
    policy = OutboundPolicy(site=(server,), allow_insecure=True)
    with respx.mock(base_url=server) as router:
        router.get("/MedicationStatement").respond(json=searchset(statement("s1")))
        data = await gather(
            hook_request({"medicationRequests": None}, fhir_server=server), policy=policy
        )

    assert ids(data, "MedicationRequest") == []
    assert ids(data, "MedicationStatement") == ["s1"]


async def test_gather_when_insecure_fhir_allowed_but_unlisted_refuses_plain_http() -> None:
    with respx.mock(assert_all_called=False) as router:
        anything = router.route().respond(json=searchset(statement("s1")))
        with pytest.raises(DataUnavailable) as caught:
            await gather(
                hook_request(fhir_server="http://ehr.internal/fhir"), allow_insecure_fhir=True
            )

    assert anything.call_count == 0
    assert "not https" in caught.value.message


async def test_gather_when_next_link_points_at_another_host_does_not_follow_it(
    fhir_server: respx.MockRouter,
) -> None:
    with respx.mock(base_url="https://evil.example.net", assert_all_called=False) as elsewhere:
        stolen = elsewhere.route().respond(json=searchset(order("r2")))
        first = searchset(order("r1"), next_url="https://evil.example.net/MedicationRequest?p=2")
        request = hook_request({"medicationStatements": None, "medicationRequests": first})

        data = await gather(request)

    assert stolen.call_count == 0
    assert ids(data, "MedicationRequest") == ["r1"]
    assert [g.what for g in data.gaps] == ["MedicationRequest list"]
    assert "another server" in data.gaps[0].reason


async def test_gather_when_prefetch_bundle_pages_and_no_server_reports_a_gap() -> None:
    first = searchset(order("r1"), next_url="https://ehr.example.org/fhir/MedicationRequest?p=2")
    request = hook_request(
        {"medicationStatements": None, "medicationRequests": first}, fhir_server=None, token=None
    )

    data = await gather(request)

    assert ids(data, "MedicationRequest") == ["r1"]
    assert "no usable fhirServer" in data.gaps[0].reason


@pytest.mark.parametrize("server", ["http://[::1", "https://exa mple.org/fhir", "https://\x00/x"])
async def test_gather_when_fhir_server_is_not_a_parsable_url_refuses_it_with_a_412(
    server: str,
) -> None:
    with pytest.raises(DataUnavailable) as caught:
        await gather(hook_request(fhir_server=server))

    assert "fhirServer" in caught.value.message
