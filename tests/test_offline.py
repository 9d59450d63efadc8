"""The offline guard (tests/offline.py): non-loopback connects and look-ups fail; loopback works."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest

from tests.offline import NetworkBlocked, is_loopback, take_attempts


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "::1", "[::1]", "localhost", b"::1"])
def test_is_loopback_when_host_stays_on_the_machine_is_true(host: str | bytes) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["192.0.2.1", "10.0.0.1", "example.org", "0.0.0.0", "", None])
def test_is_loopback_when_host_leaves_the_machine_is_false(host: str | None) -> None:
    assert not is_loopback(host)


def test_connect_when_address_is_not_loopback_is_refused_and_recorded() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked):
        sock.connect(("192.0.2.1", 443))

    assert take_attempts() == ["connect to 192.0.2.1:443"]


def test_http_get_when_host_needs_a_name_lookup_is_refused_and_recorded() -> None:
    with pytest.raises(NetworkBlocked):
        httpx.get("https://ehr.invalid/fhir/metadata", timeout=1)

    assert take_attempts() == ["name lookup of 'ehr.invalid'"]


def test_connect_when_address_is_loopback_reaches_the_listener() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            accepted, _ = server.accept()
            accepted.close()

    assert take_attempts() == []


def test_tls_context_when_built_by_httpx_in_a_test_trusts_no_ca_roots() -> None:
    context = httpx.create_ssl_context()

    assert "SSL_CERT_FILE" not in os.environ
    assert list(Path(os.environ["SSL_CERT_DIR"]).iterdir()) == []
    assert context.cert_store_stats()["x509_ca"] == 0
