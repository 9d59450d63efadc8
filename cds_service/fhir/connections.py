"""Connections to FHIR servers: a small pool per server, each connecting only to addresses it checked.

Why check at connect time rather than before the request: a name checked first and connected to later
is resolved twice, and a DNS rebind in between would reach whatever the second answer names. Here the
network backend resolves the name once, refuses the whole name if any address is not allowed, and opens
the socket to an address it has just checked; TLS still verifies the certificate against the name. One
pool per origin (and address rule) means a hanging server exhausts only its own connections.

Requests beyond a pool's connections wait at its gate, not in httpcore's queue: httpcore 1.0 walks every
queued request against every connection on each pool event (encode/httpcore#1035), so 60 calls naming a
hanging server (300 queued requests) kept the event loop busy enough to time out calls to healthy ones.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ssl import SSLContext

import anyio
import httpcore
import httpx

# httpcore's own readability test, so that ours answers exactly as it would (it is not exported).
from httpcore._utils import is_socket_readable

from cds_service.fhir import urls
from cds_service.fhir.addresses import AddressRule, refusal
from cds_service.fhir.outbound import Target

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
MAX_SERVERS = 64  # pools kept; the least recently used idle ones are closed beyond this


class AddressRefused(Exception):
    """A FHIR server's name resolved to an address this service may not connect to."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, off the event loop)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks every address, then connects to one of them."""

    def __init__(
        self,
        rule: AddressRule,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._rule = rule
        self._resolve = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in await self.checked_addresses(host, port, timeout):
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
                return _Stream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def checked_addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The addresses of ``host``, all allowed under the rule; AddressRefused if any is not."""
        try:
            with anyio.fail_after(timeout):
                found = list(await self._resolve(host, port))
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} could not be resolved") from exc
        for address in found:
            reason = refusal(ipaddress.ip_address(address), self._rule)
            if reason is not None:
                raise AddressRefused(f"{host} resolves to a {reason}")
        return found

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("FHIR servers are reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class _Stream(httpcore.AsyncNetworkStream):
    """The backend's stream, with its socket looked up once. On every pool event httpcore asks each
    idle connection whether its socket is readable (a server that closed it is), and anyio builds
    every attribute of the stream to answer one (about 20 us each, most of a warm pool's work)."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    def __init__(
        self, limits: httpx.Limits, backend: httpcore.AsyncNetworkBackend, ssl: SSLContext
    ) -> None:
        super().__init__(verify=ssl, limits=limits, trust_env=False)
        # httpx 0.28 takes no network backend (encode/httpx#3749): swap in the same pool built with
        # ours. tests/fhir/test_connections.py fails if this stops reaching the backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class _Gate(httpx.AsyncBaseTransport):
    """At most ``slots`` requests inside the pool at once; a slot is held until the body is closed."""

    def __init__(self, inner: httpx.AsyncBaseTransport, slots: int) -> None:
        self._inner = inner
        self._slots = asyncio.Semaphore(slots)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # The wait for a slot is httpx's pool wait, under its pool timeout; a caller's own timeout
        # cancels it too. Either way no slot is taken.
        wait = typing.cast(dict[str, float | None], request.extensions.get("timeout", {}))
        try:
            async with asyncio.timeout(wait.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(
                "no connection to this FHIR server came free", request=request
            ) from None
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._slots.release()
            raise
        if response.is_closed:  # built already read (no body to close later)
            self._slots.release()
        else:
            response.stream = _Releasing(response.stream, self._slots.release)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Releasing(httpx.AsyncByteStream):
    """A response body that gives its slot back once, when it is closed."""

    def __init__(
        self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, release: Callable[[], None]
    ) -> None:
        self._inner = typing.cast(httpx.AsyncByteStream, inner)
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


@dataclass(slots=True)
class _Pool:
    client: httpx.AsyncClient
    leases: int = 0


_Key = tuple[tuple[str, str, int | None], AddressRule]


class ServerPools:
    """One httpx client, with its own connection pool, per FHIR origin and address rule."""

    def __init__(
        self,
        *,
        max_connections: int,
        resolver: Resolver = system_resolver,
        connector: httpcore.AsyncNetworkBackend | None = None,
        max_servers: int = MAX_SERVERS,
        wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        """``resolver`` and ``connector`` (what opens sockets) are injectable: tests send nothing.
        ``wrap`` decorates each server's transport (the metrics count FHIR requests there)."""
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._max_connections = max_connections
        self._resolver = resolver
        self._connector = connector
        self._max_servers = max_servers
        self._wrap = wrap or (lambda transport: transport)
        self._ssl: SSLContext | None = (
            None  # loaded once, on the first pool (SSL_CERT_FILE honoured)
        )
        self._pools: OrderedDict[_Key, _Pool] = OrderedDict()

    @asynccontextmanager
    async def lease(self, target: Target) -> AsyncIterator[httpx.AsyncClient]:
        """The client for ``target``'s server, kept open while leased."""
        key = (urls.origin(target.base), target.rule)
        pool = self._pools.pop(key, None) or self._new(target.rule)
        self._pools[key] = pool  # most recently used last
        pool.leases += 1
        try:
            await self._close_idle_beyond_limit()
            yield pool.client
        finally:
            pool.leases -= 1

    def _new(self, rule: AddressRule) -> _Pool:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        backend = CheckedBackend(rule, self._resolver, self._connector)
        checked = _CheckedTransport(self._limits, backend, self._ssl)
        transport = self._wrap(_Gate(checked, self._max_connections))
        client = httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)
        return _Pool(client)

    async def _close_idle_beyond_limit(self) -> None:
        excess = len(self._pools) - self._max_servers
        idle = [key for key, pool in self._pools.items() if pool.leases == 0][: max(excess, 0)]
        closing = [self._pools.pop(key) for key in idle]  # all taken out before the first await
        for pool in closing:
            await pool.client.aclose()

    async def aclose(self) -> None:
        """Close every pool (at shutdown)."""
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.client.aclose()
