"""A FHIR server's pool lets in only as many requests as it has connections; the rest wait at its gate.

httpcore 1.0 walks every queued request against every connection on each pool event, so a queue of
hundreds (60 calls naming a hanging server) cost enough CPU to time out calls to healthy servers
(tests/hardening/test_hostile_fhir.py). The gate keeps httpcore's queue empty; these tests hold its
accounting: who gets in, and that every way out gives the slot back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from cds_service.fhir.connections import ServerPools, _Gate, _Releasing
from cds_service.fhir.outbound import OutboundPolicy, Target

pytestmark = pytest.mark.anyio

URL = "http://fhir.gate.test/fhir/MedicationRequest"


class Inner(httpx.AsyncBaseTransport):
    """Counts the requests inside it (from arrival to the body's close); ``/refused`` fails,
    ``/hang`` never answers, ``/read`` answers a body read already, ``/bad-close`` fails to close."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.served = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.inside += 1
        self.most = max(self.most, self.inside)
        if request.url.path.endswith("/refused"):
            self.inside -= 1
            raise httpx.ConnectError("refused", request=request)
        if request.url.path.endswith("/hang"):
            try:
                await asyncio.Event().wait()
            finally:
                self.inside -= 1
        self.served += 1
        if request.url.path.endswith("/read"):
            self.inside -= 1
            return httpx.Response(200, content=b"{}")
        return httpx.Response(200, stream=_Body(self, request.url.path.endswith("/bad-close")))


class _Body(httpx.AsyncByteStream):
    def __init__(self, inner: Inner, fails: bool = False) -> None:
        self._inner = inner
        self._fails = fails

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"resourceType":"Bundle"}'

    async def aclose(self) -> None:
        self._inner.inside -= 1
        if self._fails:
            raise OSError("connection reset while closing")


async def _settle() -> None:
    for _ in range(20):  # let every task run up to where it waits
        await asyncio.sleep(0)


async def test_only_as_many_requests_as_connections_go_in_and_the_rest_wait_their_turn() -> None:
    inner = Inner()
    release = asyncio.Event()
    async with httpx.AsyncClient(transport=_Gate(inner, 2)) as client:

        async def hold() -> int:
            async with client.stream("GET", URL) as response:
                await release.wait()
                return response.status_code

        tasks = [asyncio.create_task(hold()) for _ in range(5)]
        await _settle()
        inside_while_held = inner.inside
        release.set()
        statuses = await asyncio.gather(*tasks)

    assert inside_while_held == 2  # three wait at the gate, not inside the pool
    assert inner.most == 2
    assert statuses == [200] * 5  # each got its turn as a body was closed
    assert inner.inside == 0


async def test_a_failed_request_and_a_cancelled_wait_give_their_slot_back() -> None:
    inner = Inner()
    async with httpx.AsyncClient(transport=_Gate(inner, 1)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(URL.replace("MedicationRequest", "refused"))
        async with client.stream("GET", URL):  # the one slot is taken...
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):  # ...so this waits, and is cancelled waiting
                    await client.get(URL)
        answers = await asyncio.gather(*(client.get(URL) for _ in range(3)))

    assert [answer.status_code for answer in answers] == [200] * 3
    assert inner.most == 1  # the cancelled wait never took a slot it did not give back
    assert inner.served == 4


async def test_a_request_cancelled_inside_the_pool_gives_its_slot_back() -> None:
    inner = Inner()
    async with httpx.AsyncClient(transport=_Gate(inner, 1)) as client:
        for _ in range(3):  # each would leak the one slot, and the next would never get in
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):  # the reader's per-request timeout
                    await client.get(URL.replace("MedicationRequest", "hang"))
        after = await client.get(URL, timeout=httpx.Timeout(None, pool=1))

    assert after.status_code == 200


async def test_a_body_that_fails_to_close_still_gives_its_slot_back() -> None:
    inner = Inner()
    async with httpx.AsyncClient(transport=_Gate(inner, 1)) as client:
        with pytest.raises(OSError, match="reset"):
            await client.get(URL.replace("MedicationRequest", "bad-close"))
        after = await client.get(URL, timeout=httpx.Timeout(None, pool=1))

    assert after.status_code == 200


async def test_an_answer_read_before_it_reaches_the_gate_gives_its_slot_back_at_once() -> None:
    inner = Inner()
    async with httpx.AsyncClient(transport=_Gate(inner, 1)) as client:
        answers = [
            await client.get(
                URL.replace("MedicationRequest", "read"), timeout=httpx.Timeout(None, pool=1)
            )
            for _ in range(3)
        ]

    assert [answer.status_code for answer in answers] == [200] * 3


async def test_a_body_closed_twice_gives_its_slot_back_once() -> None:
    released: list[None] = []
    body = _Releasing(_Body(Inner()), lambda: released.append(None))
    await body.aclose()
    await body.aclose()

    assert len(released) == 1


async def test_waiting_at_the_gate_counts_as_httpxs_pool_wait_and_times_out_as_one() -> None:
    inner = Inner()
    async with httpx.AsyncClient(transport=_Gate(inner, 1)) as client:
        async with client.stream("GET", URL):
            with pytest.raises(httpx.PoolTimeout):
                # A safety net: a missed pool timeout fails the test instead of hanging it.
                async with asyncio.timeout(5):
                    await client.get(URL, timeout=httpx.Timeout(None, pool=0.05))
        after = await client.get(URL)

    assert after.status_code == 200


async def test_every_fhir_servers_pool_is_gated_at_its_connection_limit() -> None:
    wrapped: list[httpx.AsyncBaseTransport] = []

    def record(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        wrapped.append(transport)
        return transport

    servers = ServerPools(max_connections=3, wrap=record)
    target = OutboundPolicy().target("https://fhir.gate.test/r4")
    assert isinstance(target, Target)
    try:
        async with servers.lease(target):
            pass
    finally:
        await servers.aclose()

    (gate,) = wrapped
    assert isinstance(gate, _Gate)
    inner = Inner()
    gate._inner = inner  # the same gate in front of a counting pool
    release = asyncio.Event()
    async with httpx.AsyncClient(transport=gate) as client:

        async def hold() -> None:
            async with client.stream("GET", URL):
                await release.wait()

        tasks = [asyncio.create_task(hold()) for _ in range(5)]
        await _settle()
        inside_while_held = inner.inside
        release.set()
        await asyncio.gather(*tasks)

    assert inside_while_held == 3
