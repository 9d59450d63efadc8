"""The fetch path's per-call cost: no import machinery, and the pool's idle checks kept cheap and right.

httpcore asks which async library runs it each time it makes a lock, an event or a semaphore, by
importing sniffio; without sniffio installed, each ask is a failed import that walks ``sys.path``
(about 0.1 ms, some forty times a hook call). A failed import is never cached, so any such lookup on
the call path costs every call: this test fails on the first one.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import socket
import sys
from collections.abc import Sequence
from types import ModuleType

import pytest
from httpcore._utils import is_socket_readable

from cds_service.fhir.gatherer import MedicationGatherer
from cds_service.fhir.outbound import OutboundPolicy
from cds_service.fhir.reader import FetchLimits
from tests.fhir.builders import hook_request, ids, pools, searchset, statement
from tests.fhir.loopback import fhir_json, loopback

pytestmark = pytest.mark.anyio


class LookupRecorder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: records every module Python goes looking for, finds none."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        self.names.append(fullname)
        return None


async def test_gathering_from_a_warm_pool_looks_up_no_module() -> None:
    async with loopback(fhir_json(searchset(statement("s1")))) as server:
        async with pools() as servers:
            gatherer = MedicationGatherer(
                servers, OutboundPolicy(local_loopback=True), FetchLimits(timeout_seconds=5)
            )
            request = hook_request({"medicationRequests": None}, fhir_server=server.base)
            loop = asyncio.get_running_loop()
            await gatherer.gather(request, deadline=loop.time() + 5)  # the first call may import
            recorder = LookupRecorder()
            sys.meta_path.insert(0, recorder)
            try:
                data = await gatherer.gather(request, deadline=loop.time() + 5)
            finally:
                sys.meta_path.remove(recorder)

    assert ids(data, "MedicationStatement") == ["s1"]  # the call did go over the socket
    assert recorder.names == []


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    # The pool asks each idle connection whether its socket is readable (fhir.connections._Stream
    # answers from the socket it opened): a server-closed one is, and a new connection is opened.
    answer = fhir_json(searchset(statement("s1")))

    async def answer_then_close(head: str, writer: asyncio.StreamWriter) -> None:
        await answer(head, writer)
        writer.close()

    async with loopback(answer_then_close) as server:
        async with pools() as servers:
            gatherer = MedicationGatherer(
                servers, OutboundPolicy(local_loopback=True), FetchLimits(timeout_seconds=5)
            )
            request = hook_request({"medicationRequests": None}, fhir_server=server.base)
            loop = asyncio.get_running_loop()
            first = await gatherer.gather(request, deadline=loop.time() + 5)
            while server.open_connections:
                await asyncio.sleep(0.01)
            second = await gatherer.gather(request, deadline=loop.time() + 5)

    assert len(server.heads) == 2
    assert ids(first, "MedicationStatement") == ids(second, "MedicationStatement") == ["s1"]
    assert second.gaps == ()


def test_readable_is_true_for_waiting_data_a_closed_peer_or_no_socket() -> None:
    # The test _Stream answers with (httpcore's own, not exported): held here in case it changes.
    readable = is_socket_readable
    left, right = socket.socketpair()
    with left, right:
        assert readable(left) is False
        right.sendall(b"x")
        assert readable(left) is True
        left.recv(1)
        assert readable(left) is False
        right.close()
        assert readable(left) is True
    assert readable(None) is True
    assert readable(left) is True  # closed: no file descriptor
