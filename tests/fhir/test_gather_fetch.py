"""Fetching from the FHIR server: paging and its caps, unsupported types, concurrency, Medication reads."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import respx

from cds_service.fhir.gatherer import MedicationGatherer
from cds_service.fhir.outbound import OutboundPolicy
from cds_service.fhir.reader import UNREADABLE, FetchLimits
from tests.fhir.builders import (
    BASE,
    SAFETY_NET_SECONDS,
    TOKEN,
    gather,
    hook_request,
    ids,
    medication,
    order,
    outcome,
    pools,
    searchset,
    statement,
)

pytestmark = pytest.mark.anyio


def _pages(router: respx.MockRouter, resource_type: str, count: int) -> None:
    """``count`` linked pages of one record each; page n links to page n+1 (the last links nowhere)."""
    make = statement if resource_type == "MedicationStatement" else order
    for n in range(count, 0, -1):
        nxt = f"{BASE}/{resource_type}?_page={n + 1}" if n < count else None
        params = {"_page": str(n)} if n > 1 else {"patient": "pat-4711"}
        router.get(f"/{resource_type}", params=params).respond(
            json=searchset(make(f"p{n}"), next_url=nxt)
        )


async def test_gather_when_search_is_paged_follows_next_links(
    fhir_server: respx.MockRouter,
) -> None:
    _pages(fhir_server, "MedicationRequest", 3)
    fhir_server.get("/MedicationStatement").respond(json=searchset())

    data = await gather(hook_request())

    assert ids(data, "MedicationRequest") == ["p1", "p2", "p3"]
    assert data.gaps == ()


async def test_gather_when_pages_exceed_the_cap_reads_the_cap_and_reports_a_gap(
    fhir_server: respx.MockRouter,
) -> None:
    _pages(fhir_server, "MedicationRequest", 4)
    fhir_server.get("/MedicationStatement").respond(json=searchset())

    data = await gather(hook_request(), max_pages=2)

    assert ids(data, "MedicationRequest") == ["p1", "p2"]
    assert [(g.what, g.reason) for g in data.gaps] == [
        ("MedicationRequest list", "more than 2 pages, only the first 2 read")
    ]


async def test_gather_when_entries_exceed_the_limit_truncates_and_reports_a_gap(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/MedicationRequest").respond(
        json=searchset(*(order(f"r{n}") for n in range(5)))
    )

    data = await gather(hook_request({"medicationStatements": None}), max_bundle_entries=3)

    assert ids(data, "MedicationRequest") == ["r0", "r1", "r2"]
    assert [g.reason for g in data.gaps] == ["more than 3 entries, only the first 3 read"]


async def test_gather_when_type_search_is_404_treats_it_as_empty_and_logs_once(
    fhir_server: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    fhir_server.get("/MedicationStatement").respond(404)
    fhir_server.get("/MedicationRequest").respond(json=searchset(order("r1")))
    caplog.set_level(logging.INFO, logger="cds_service.fhir.gatherer")

    async with pools() as servers:
        limits = FetchLimits(timeout_seconds=SAFETY_NET_SECONDS)
        gatherer = MedicationGatherer(servers, OutboundPolicy(), limits)
        deadline = asyncio.get_running_loop().time() + SAFETY_NET_SECONDS
        first = await gatherer.gather(hook_request(), deadline=deadline)
        second = await gatherer.gather(hook_request(), deadline=deadline)

    assert first.gaps == second.gaps == ()
    assert ids(first, "MedicationRequest") == ["r1"]
    unsupported = [r for r in caplog.records if "does not support MedicationStatement" in r.message]
    assert len(unsupported) == 1


async def test_gather_when_server_says_not_supported_treats_it_as_empty(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/MedicationStatement").respond(400, json=outcome(code="not-supported"))
    fhir_server.get("/MedicationRequest").respond(json=searchset(order("r1")))

    data = await gather(hook_request())

    assert data.gaps == ()
    assert ids(data, "MedicationRequest") == ["r1"]


async def test_gather_runs_both_searches_concurrently(fhir_server: respx.MockRouter) -> None:
    arrived = {"MedicationStatement": asyncio.Event(), "MedicationRequest": asyncio.Event()}

    def waits_for_the_other(resource_type: str, other: str, body: dict[str, object]):  # type: ignore[no-untyped-def]
        async def respond(request: httpx.Request) -> httpx.Response:
            arrived[resource_type].set()
            await asyncio.wait_for(arrived[other].wait(), timeout=SAFETY_NET_SECONDS)
            return httpx.Response(200, json=body)

        return respond

    fhir_server.get("/MedicationStatement").mock(
        side_effect=waits_for_the_other(
            "MedicationStatement", "MedicationRequest", searchset(statement("s1"))
        )
    )
    fhir_server.get("/MedicationRequest").mock(
        side_effect=waits_for_the_other(
            "MedicationRequest", "MedicationStatement", searchset(order("r1"))
        )
    )

    data = await gather(hook_request())

    assert data.gaps == ()
    assert sorted(str(s.resource["id"]) for s in data.resources) == ["r1", "s1"]


async def test_gather_reads_referenced_medications_concurrently_with_the_token(
    fhir_server: respx.MockRouter,
) -> None:
    arrived = {"m1": asyncio.Event(), "m2": asyncio.Event()}

    async def read(request: httpx.Request) -> httpx.Response:
        rid = request.url.path.rsplit("/", 1)[-1]
        arrived[rid].set()
        both = asyncio.gather(*(e.wait() for e in arrived.values()))
        await asyncio.wait_for(both, timeout=SAFETY_NET_SECONDS)
        return httpx.Response(200, json=medication(rid))

    reads = fhir_server.get(path__regex=r"/Medication/m\d$").mock(side_effect=read)
    fhir_server.get("/MedicationRequest").respond(
        json=searchset(
            order("r1", medication="Medication/m1"), order("r2", medication="Medication/m2")
        )
    )

    data = await gather(hook_request({"medicationStatements": None}))

    assert reads.call_count == 2
    assert {c.request.headers["Authorization"] for c in reads.calls} == {f"Bearer {TOKEN}"}
    assert data.medications["Medication/m1"]["id"] == "m1"
    assert data.medications["Medication/m2"]["id"] == "m2"
    assert data.gaps == ()


async def test_gather_does_not_read_contained_medications(fhir_server: respx.MockRouter) -> None:
    reads = fhir_server.get(path__regex=r".*/Medication/.*").respond(json=medication("x"))
    contained = order("r1", medication="#med1")
    contained["contained"] = [medication("med1")]
    request = hook_request(
        {"medicationStatements": None, "medicationRequests": searchset(contained)}
    )

    data = await gather(request)

    assert reads.call_count == 0
    assert data.medications == {}


async def test_gather_when_a_medication_read_fails_reports_a_gap(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/Medication/gone").respond(404, json=outcome(code="not-found"))
    request = hook_request(
        {
            "medicationStatements": None,
            "medicationRequests": searchset(order("r1", medication="Medication/gone")),
        }
    )

    data = await gather(request)

    assert ids(data, "MedicationRequest") == ["r1"]
    assert [(g.what, g.reason) for g in data.gaps] == [
        ("referenced Medication resources", f"1 of 1 could not be read: {UNREADABLE}")
    ]


async def test_read_medications_returns_them_keyed_by_reference(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/Medication/m5").respond(json=medication("m5"))
    async with pools() as servers:
        limits = FetchLimits(timeout_seconds=SAFETY_NET_SECONDS, max_pages=1)
        gatherer = MedicationGatherer(servers, OutboundPolicy(), limits)
        deadline = asyncio.get_running_loop().time() + SAFETY_NET_SECONDS
        found = await gatherer.read_medications(
            hook_request(),
            ["Medication/m5", "https://elsewhere.example/Medication/m6"],
            deadline=deadline,
        )

    assert set(found) == {"Medication/m5"}
    assert found["Medication/m5"]["id"] == "m5"
