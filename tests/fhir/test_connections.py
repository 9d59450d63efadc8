"""Addresses checked at connect time: metadata, link-local and private addresses refused unless listed.

No test here sends traffic anywhere but loopback: names resolve through a stub, and sockets are opened
by a recording connector that refuses to connect (or, for loopback, by the real backend).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Sequence

import httpcore
import pytest

from cds_service.clinical.types import MedicationData
from cds_service.errors import DataUnavailable
from cds_service.fhir.addresses import AddressRule, Kind, kind
from cds_service.fhir.connections import system_resolver
from cds_service.fhir.gatherer import MedicationGatherer
from cds_service.fhir.outbound import OutboundPolicy, Target
from cds_service.fhir.reader import ADDRESS_REFUSED, UNREACHABLE, FetchLimits
from tests.fhir.builders import hook_request, ids, pools, searchset, statement
from tests.fhir.loopback import fhir_json, hang, loopback

pytestmark = pytest.mark.anyio

LOCAL = OutboundPolicy(local_loopback=True)


class Recording(httpcore.AsyncNetworkBackend):
    """Records where it was asked to connect, and connects nowhere."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.calls.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")


def stub_resolver(table: dict[str, Sequence[str]]):  # type: ignore[no-untyped-def]
    """Names from ``table``; an IP literal resolves to itself, as the system resolver does."""
    seen: list[str] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        seen.append(host)
        if host in table:
            return table[host]
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "unknown name") from None

    resolve.seen = seen  # type: ignore[attr-defined]
    return resolve


async def _gather(
    server: str, policy: OutboundPolicy, table: dict[str, Sequence[str]], connector: Recording
) -> MedicationData:
    async with pools(resolver=stub_resolver(table), connector=connector) as servers:
        gatherer = MedicationGatherer(servers, policy, FetchLimits(timeout_seconds=2))
        deadline = asyncio.get_running_loop().time() + 3
        return await gatherer.gather(hook_request(fhir_server=server), deadline=deadline)


REFUSED = [
    ("metadata.google.internal", ["169.254.169.254"], LOCAL),
    (
        "metadata.google.internal",
        ["169.254.169.254"],
        OutboundPolicy(site=("https://metadata.google.internal",)),
    ),
    ("169.254.169.254", ["169.254.169.254"], LOCAL),
    ("imds.example", ["fd00:ec2::254"], OutboundPolicy(site=("https://imds.example",))),
    ("ecs.example", ["169.254.170.2"], LOCAL),
    ("link.example", ["169.254.10.10"], LOCAL),
    ("link6.example", ["fe80::1"], LOCAL),
    ("ehr.internal", ["10.0.0.5"], LOCAL),
    ("ehr.internal", ["172.16.3.4"], LOCAL),
    ("ehr.internal", ["192.168.1.10"], LOCAL),
    ("ehr.internal", ["fd12:3456::1"], LOCAL),
    ("cgnat.example", ["100.64.0.1"], LOCAL),
    ("mapped.example", ["::ffff:10.0.0.5"], LOCAL),
    ("sixtofour.example", ["2002:a9fe:a9fe::1"], LOCAL),  # 6to4 wrapping 169.254.169.254
    ("nat64.example", ["64:ff9b::a9fe:a9fe"], LOCAL),  # NAT64 wrapping 169.254.169.254
    ("mixed.example", ["93.184.216.34", "10.0.0.1"], LOCAL),  # one bad address refuses the name
    ("zero.example", ["0.0.0.0"], OutboundPolicy(site=("https://zero.example",))),
    ("loop.example", ["127.0.0.1"], OutboundPolicy()),  # loopback outside local development
]


@pytest.mark.parametrize(
    ("host", "addresses", "policy"), REFUSED, ids=[r[0] + ":" + r[1][-1] for r in REFUSED]
)
async def test_gather_when_fhir_server_resolves_to_a_refused_address_never_connects(
    host: str, addresses: list[str], policy: OutboundPolicy
) -> None:
    connector = Recording()

    with pytest.raises(DataUnavailable) as caught:
        await _gather(f"https://{host}/fhir", policy, {host: addresses}, connector)

    assert connector.calls == []
    assert ADDRESS_REFUSED in caught.value.message
    assert addresses[-1] not in caught.value.message  # the address is only logged


ALLOWED = [
    ("ehr.example.org", ["93.184.216.34"], OutboundPolicy()),
    ("ehr.internal", ["10.0.0.5"], OutboundPolicy(site=("https://ehr.internal/fhir",))),
    ("ehr.internal", ["fd12:3456::1"], OutboundPolicy(site=("https://ehr.internal",))),
    ("link.example", ["169.254.10.10"], OutboundPolicy(site=("https://link.example/fhir",))),
    ("localhost", ["127.0.0.1"], LOCAL),
]


@pytest.mark.parametrize(
    ("host", "addresses", "policy"), ALLOWED, ids=[r[0] + ":" + r[1][0] for r in ALLOWED]
)
async def test_gather_when_fhir_server_address_is_allowed_connects_to_that_checked_address(
    host: str, addresses: list[str], policy: OutboundPolicy
) -> None:
    connector = Recording()

    with pytest.raises(DataUnavailable) as caught:
        await _gather(f"https://{host}/fhir", policy, {host: addresses}, connector)

    # The socket goes to the address that was checked, never to the name resolved again.
    assert {call for call in connector.calls} == {(addresses[0], 443)}
    assert UNREACHABLE in caught.value.message


async def test_gather_when_a_name_rebinds_to_a_private_address_refuses_that_connection() -> None:
    answers = iter([["93.184.216.34"], ["93.184.216.34"], ["10.0.0.1"], ["10.0.0.1"]])

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return next(answers)

    connector = Recording()
    async with pools(resolver=rebinding, connector=connector) as servers:
        gatherer = MedicationGatherer(servers, OutboundPolicy(), FetchLimits())
        request = hook_request(fhir_server="https://rebind.example/fhir")
        deadline = asyncio.get_running_loop().time() + 3
        for _ in range(2):
            with pytest.raises(DataUnavailable) as caught:
                await gatherer.gather(request, deadline=deadline)

    assert connector.calls == [("93.184.216.34", 443)] * 2
    assert ADDRESS_REFUSED in caught.value.message


async def test_gather_through_the_checked_backend_sends_the_name_as_host_to_the_checked_address() -> (
    None
):
    async with loopback(fhir_json(searchset(statement("s1")))) as server:
        name = "ehr.test"
        base = f"http://{name}:{server.port}/fhir"
        policy = OutboundPolicy(site=(base,), allow_insecure=True)
        async with pools(resolver=stub_resolver({name: ["127.0.0.1"]})) as servers:
            gatherer = MedicationGatherer(servers, policy, FetchLimits())
            request = hook_request({"medicationRequests": None}, fhir_server=base)
            deadline = asyncio.get_running_loop().time() + 3
            data = await gatherer.gather(request, deadline=deadline)

    assert ids(data, "MedicationStatement") == ["s1"]
    assert f"host: {name}:{server.port}" in server.heads[0].lower()


async def test_system_resolver_resolves_an_ip_literal_to_itself() -> None:
    assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("93.184.216.34", Kind.PUBLIC),
        ("2606:4700::1111", Kind.PUBLIC),
        ("64:ff9b::5db8:d822", Kind.PUBLIC),  # NAT64 of a public address
        ("127.0.0.1", Kind.LOOPBACK),
        ("::1", Kind.LOOPBACK),
        ("::ffff:127.0.0.1", Kind.LOOPBACK),
        ("10.1.2.3", Kind.PRIVATE),
        ("100.64.0.1", Kind.PRIVATE),
        ("fd00::1", Kind.PRIVATE),
        ("169.254.1.1", Kind.LINK_LOCAL),
        ("fe80::1", Kind.LINK_LOCAL),
        ("169.254.169.254", Kind.NEVER),
        ("fd00:ec2::254", Kind.NEVER),
        ("::ffff:169.254.169.254", Kind.NEVER),
        ("0.0.0.0", Kind.NEVER),
        ("::", Kind.NEVER),
        ("224.0.0.1", Kind.NEVER),
        ("240.0.0.1", Kind.NEVER),
    ],
)
def test_address_kind_classifies_including_embedded_ipv4(address: str, expected: Kind) -> None:
    assert kind(ipaddress.ip_address(address)) is expected


# ---------------------------------------------------------------- one pool per server


async def test_pools_give_each_origin_and_rule_its_own_client() -> None:
    a = Target("https://a.example/fhir", AddressRule())
    async with pools() as servers:
        async with (
            servers.lease(a) as first,
            servers.lease(Target("https://a.example/x", AddressRule())) as same,
        ):
            async with servers.lease(Target("https://b.example/fhir", AddressRule())) as other:
                async with servers.lease(Target(a.base, AddressRule(private=True))) as listed:
                    assert first is same
                    assert len({id(first), id(other), id(listed)}) == 3


async def test_pools_beyond_the_limit_close_the_least_recently_used_idle_one() -> None:
    async with pools(max_servers=1) as servers:
        async with servers.lease(Target("https://a.example", AddressRule())) as held:
            async with servers.lease(Target("https://b.example", AddressRule())) as b:
                pass
            assert not held.is_closed  # leased: never closed under a call
        async with servers.lease(Target("https://c.example", AddressRule())):
            assert b.is_closed or held.is_closed


async def test_gather_to_a_healthy_server_succeeds_while_a_hanging_one_holds_all_its_connections() -> (
    None
):
    async with (
        loopback(hang) as hanging,
        loopback(fhir_json(searchset(statement("s1")))) as healthy,
    ):
        async with pools(max_connections=2) as servers:
            gatherer = MedicationGatherer(servers, LOCAL, FetchLimits(timeout_seconds=30))
            loop = asyncio.get_running_loop()
            stuck = [
                asyncio.create_task(
                    gatherer.gather(
                        hook_request(fhir_server=hanging.base), deadline=loop.time() + 30
                    )
                )
                for _ in range(6)
            ]
            while hanging.open_connections < 2:
                await asyncio.sleep(0.01)
            request = hook_request({"medicationRequests": None}, fhir_server=healthy.base)
            data = await gatherer.gather(request, deadline=loop.time() + 30)

            assert not any(task.done() for task in stuck)
            assert hanging.open_connections == 2  # its own pool's limit, nobody else's
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)

    assert ids(data, "MedicationStatement") == ["s1"]
    assert data.gaps == ()
