"""Pytest plugin: the test session never leaves the machine; loopback is the only network there is.

Registered from ``tests/conftest.py``. For the whole session, ``socket.connect``/``connect_ex`` to an
address that is not loopback, and any name lookup other than a loopback name, raise ``NetworkBlocked``.
Each refusal is also recorded and fails the test it happened in, so a product path that swallows the
error (and answers "unreachable", say) cannot hide it. Child processes (the e2e server, the FHIR
server) are not covered: they are started on 127.0.0.1 by the tests themselves.

Offline, no test makes a TLS connection to a public server, so the session's clients trust no CA
roots: SSL_CERT_FILE is dropped and SSL_CERT_DIR points at an empty folder. Loading the system
bundle cost about 20 ms per httpx client, and every app a test builds makes one.
"""

from __future__ import annotations

import ipaddress
import socket
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_attempts: list[str] = []


class NetworkBlocked(RuntimeError):
    """A test reached for a non-loopback address."""


def is_loopback(host: object) -> bool:
    """Whether ``host`` (an IP address or a name) stays on this machine."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refuse(target: str) -> NetworkBlocked:
    _attempts.append(target)
    return NetworkBlocked(f"tests run offline: refused {target} (only loopback is allowed)")


def _guard_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(sock: socket.socket, address: Any, *args: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
            raise _refuse(f"connect to {address[0]}:{address[1]}")
        return original(sock, address, *args)

    return connect


def _guard_lookup(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback(host):
            raise _refuse(f"name lookup of {host!r}")
        return original(host, *args, **kwargs)

    return getaddrinfo


def pytest_configure(config: pytest.Config) -> None:
    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", _guard_connect(socket.socket.connect))
    mp.setattr(socket.socket, "connect_ex", _guard_connect(socket.socket.connect_ex))
    mp.setattr(socket, "getaddrinfo", _guard_lookup(socket.getaddrinfo))
    no_roots = tempfile.TemporaryDirectory(prefix="tests-no-ca-roots-")
    mp.delenv("SSL_CERT_FILE", raising=False)
    mp.setenv("SSL_CERT_DIR", no_roots.name)
    config.add_cleanup(no_roots.cleanup)
    config.add_cleanup(mp.undo)


def take_attempts() -> list[str]:
    """The refusals recorded since the last call (a test of the guard itself takes its own)."""
    taken = list(_attempts)
    _attempts.clear()
    return taken


@pytest.fixture(autouse=True)
def _no_network_reached() -> Iterator[None]:
    yield
    attempts = take_attempts()
    assert attempts == [], f"the test reached for the network: {attempts}"
