"""FHIR answers bounded: bytes counted after decompression, per answer and per call; reads capped."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib

import httpx
import pytest
import respx

from cds_service.cdshooks.models import HookRequest
from cds_service.fhir.reader import TIMED_OUT, TOO_LARGE, UNREADABLE, _Inflater
from tests.fhir.builders import (
    gather,
    hook_request,
    ids,
    medication,
    order,
    searchset,
)
from tests.fhir.loopback import encoded, endless, loopback

pytestmark = pytest.mark.anyio

_NO_STATEMENTS = {"medicationStatements": None}
_INFLATED = 60_000_000  # what the bomb below inflates to
_BOMB = gzip.compress(b'{"resourceType":"Bundle","entry":[' + b" " * _INFLATED + b"]}", 9)


# Encoded and endless answers come from a real loopback server: respx reads (and decodes) every
# mocked answer whole before the client sees it, which would hide exactly what is tested here.


async def test_gather_when_answer_is_a_gzip_bomb_stops_at_the_cap_without_inflating_it() -> None:
    async with loopback(encoded(_BOMB, "gzip")) as server:
        tracemalloc.start()
        try:
            data = await gather(_fetching(server.base), max_response_bytes=1_000_000)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert len(_BOMB) < 100_000 < _INFLATED
    assert [(g.what, g.reason) for g in data.gaps] == [("MedicationRequest list", TOO_LARGE)]
    assert peak < 10_000_000  # the cap plus one inflated chunk, never the 60 MB


async def test_gather_when_a_deflate_answer_fits_reads_it() -> None:
    body = httpx.Response(200, json=searchset(order("r1"))).content
    async with loopback(encoded(zlib.compress(body), "deflate")) as server:
        data = await gather(_fetching(server.base))

    assert ids(data, "MedicationRequest") == ["r1"]
    assert "accept-encoding: gzip, deflate" in server.heads[0].lower()


@pytest.mark.parametrize(
    ("content", "encoding"),
    [(b"\x00\x01", "br"), (_BOMB, "gzip, gzip"), (b"\x00\x01", "compress"), (b"not gzip", "gzip")],
)
async def test_gather_when_answer_encoding_is_unknown_or_corrupt_reports_it_unreadable(
    content: bytes, encoding: str
) -> None:
    async with loopback(encoded(content, encoding)) as server:
        data = await gather(_fetching(server.base))

    assert [g.reason for g in data.gaps] == [UNREADABLE]


async def test_gather_when_answer_streams_without_end_stops_reading_at_the_cap() -> None:
    sent: list[int] = []
    async with loopback(endless(sent)) as server:
        data = await gather(_fetching(server.base), max_response_bytes=2_000_000)

    assert [g.reason for g in data.gaps] == [TOO_LARGE]
    # Cut off at the cap (plus what socket buffers held), where before it ran until the deadline.
    assert len(sent) == 1
    assert sent[0] < 20_000_000


def _fetching(base: str) -> HookRequest:
    return hook_request(_NO_STATEMENTS, fhir_server=base)


async def test_gather_when_declared_length_is_over_the_cap_refuses_it(
    fhir_server: respx.MockRouter,
) -> None:
    fhir_server.get("/MedicationRequest").respond(
        json=searchset(*(order(f"r{n}") for n in range(50)))
    )

    data = await gather(hook_request(_NO_STATEMENTS), max_response_bytes=1_000)

    assert [g.reason for g in data.gaps] == [TOO_LARGE]


async def test_gather_when_the_call_budget_is_spent_refuses_the_next_answer(
    fhir_server: respx.MockRouter,
) -> None:
    page = searchset(*(order(f"r{n}") for n in range(20)))
    size = len(httpx.Response(200, json=page).content)
    fhir_server.get("/MedicationRequest").respond(json=page)
    fhir_server.get("/MedicationStatement").respond(json=searchset())

    # Each answer fits on its own; the two together are over what one call may read.
    data = await gather(hook_request(), max_response_bytes=size + 10, max_call_bytes=size + 10)

    assert len(ids(data, "MedicationRequest")) in (0, 20)
    assert [g.reason for g in data.gaps] == [TOO_LARGE]


async def test_gather_when_a_medication_read_is_huge_reports_it_too_large(
    fhir_server: respx.MockRouter,
) -> None:
    huge = {**medication("m1"), "text": {"status": "generated", "div": "x" * 300_000}}
    fhir_server.get("/Medication/m1").respond(json=huge)
    request = hook_request(
        {**_NO_STATEMENTS, "medicationRequests": searchset(order("r1", medication="Medication/m1"))}
    )

    data = await gather(request)

    assert [g.reason for g in data.gaps] == [f"1 of 1 could not be read: {TOO_LARGE}"]


async def test_gather_with_more_references_than_the_cap_reads_the_cap_and_counts_the_rest(
    fhir_server: respx.MockRouter,
) -> None:
    reads = fhir_server.get(path__regex=r"/Medication/m\d+$").mock(
        side_effect=lambda request: httpx.Response(
            200, json=medication(request.url.path.rsplit("/", 1)[-1])
        )
    )
    history = searchset(*(order(f"r{n}", medication=f"Medication/m{n}") for n in range(5)))

    data = await gather(
        hook_request({**_NO_STATEMENTS, "medicationRequests": history}), max_medication_reads=2
    )

    assert reads.call_count == 2
    assert set(data.medications) == {"Medication/m0", "Medication/m1"}
    assert [g.reason for g in data.gaps] == ["3 of 5 not read (at most 2 are read per call)"]


async def test_gather_never_has_more_reads_in_flight_than_the_per_call_cap(
    fhir_server: respx.MockRouter,
) -> None:
    in_flight = peak = 0

    async def read(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json=medication(request.url.path.rsplit("/", 1)[-1]))

    fhir_server.get(path__regex=r"/Medication/m\d+$").mock(side_effect=read)
    history = searchset(*(order(f"r{n}", medication=f"Medication/m{n}") for n in range(12)))

    data = await gather(
        hook_request({**_NO_STATEMENTS, "medicationRequests": history}), max_concurrent_reads=3
    )

    assert len(data.medications) == 12
    assert peak == 3


async def test_gather_when_some_medication_reads_miss_the_deadline_keeps_the_others(
    fhir_server: respx.MockRouter,
) -> None:
    async def read(request: httpx.Request) -> httpx.Response:
        rid = request.url.path.rsplit("/", 1)[-1]
        if rid == "slow":
            await asyncio.sleep(30)
        return httpx.Response(200, json=medication(rid))

    fhir_server.get(path__regex=r"/Medication/\w+$").mock(side_effect=read)
    history = searchset(
        order("r1", medication="Medication/fast"), order("r2", medication="Medication/slow")
    )

    data = await gather(
        hook_request({**_NO_STATEMENTS, "medicationRequests": history}),
        timeout_seconds=10,
        budget_seconds=0.3,
    )

    assert "Medication/fast" in data.medications
    assert [g.reason for g in data.gaps] == [f"1 of 2 could not be read: {TIMED_OUT}"]


@pytest.mark.parametrize("room", [-5, 0, 10])
def test_inflater_never_inflates_more_than_the_room_left_plus_one_byte(room: int) -> None:
    # Concurrent reads can overdraw the call's budget: a negative room must not mean "no limit".
    assert len(_Inflater(16 + zlib.MAX_WBITS).feed(_BOMB, room)) == max(room, 0) + 1
