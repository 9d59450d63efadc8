"""End to end: the real server process on a free loopback port, spoken to over HTTP."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.payloads import CLONAZEPAM, hook_request, ketamine_order

pytestmark = pytest.mark.integration
SANDBOX = "http://127.0.0.1:18080"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    data_dir = tmp_path_factory.mktemp("e2e-data")
    env = {**os.environ, "CDS_DATA_DIR": str(data_dir), "CDS_CORS_ORIGINS": SANDBOX}
    process = subprocess.Popen(
        [sys.executable, "-m", "cds_service", "serve", "--port", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("server did not start within 20 s")


def test_real_server_when_hook_called_answers_cards_and_takes_feedback(server: str) -> None:
    services = httpx.get(f"{server}/cds-services").json()["services"]
    sign = next(service for service in services if service["hook"] == "order-sign")
    service_url = f"{server}/cds-services/{sign['id']}"
    response = httpx.post(
        service_url, json=hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    )
    assert response.status_code == 200
    card = response.json()["cards"][0]
    assert card["source"]["topic"]["code"] == "BZD"
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-27T10:00:00Z",
            }
        ]
    }
    assert httpx.post(f"{service_url}/feedback", json=feedback).status_code == 200


def test_real_server_when_body_not_json_answers_400_with_outcome(server: str) -> None:
    response = httpx.post(
        f"{server}/cds-services/ketamine-infusion-check",
        content=b"not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_real_server_when_sandbox_preflights_allows_its_origin(server: str) -> None:
    response = httpx.options(
        f"{server}/cds-services",
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SANDBOX


def test_real_server_keeps_an_idle_connection_open_past_uvicorns_five_seconds(server: str) -> None:
    # uvicorn's own keep-alive is 5 s; a balancer pooling connections for 60 s would then send
    # requests on connections the service is closing. CDS_KEEP_ALIVE_SECONDS (75 s) keeps them open.
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/health")
        first = connection.getresponse()
        first.read()
        time.sleep(6)
        connection.request(
            "GET", "/health"
        )  # on the same socket: http.client raises if it was closed
        second = connection.getresponse()
        second.read()
    finally:
        connection.close()

    assert first.status == 200
    assert second.status == 200
