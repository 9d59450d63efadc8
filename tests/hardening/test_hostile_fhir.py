"""The real service process against hostile FHIR servers on loopback (issue 14's done-when figures).

Each defect is reproduced as it was found: thousands of referenced Medications, a 300 MB answer, a
gzip bomb, a hanging server named by 60 calls. Memory is the service process's peak RSS (VmHWM).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cds_service.fhir.reader import TIMED_OUT, TOO_LARGE
from tests.hardening.harness import ketamine_order

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
ROOT = Path(__file__).resolve().parents[2]
SERVICE_PATH = "/cds-services/ketamine-infusion-check"
REFERENCES = 4_999
# The service's peak resident memory across every test here. Measured: 80 MB after start-up, 103 MB
# after all of them; before the byte caps a 300 MB answer took it to 1.29 GB and a bomb to 1.80 GB.
PEAK_RSS_BOUND_KB = 200_000


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(
    args: list[str], env: dict[str, str], ready: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    # stderr to a file, never an unread pipe: a service logging every failed FHIR read would block.
    with open(log or os.devnull, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{args[1]} exited with {process.returncode}")
        try:
            if httpx.get(ready, timeout=0.5).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"{args} did not start within 30 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()  # a server holding hanging requests would wait for them on SIGTERM
    process.wait(timeout=10)


def _fhir_server(read_delay: float = 0.0) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    args = [
        "-m",
        "tests.hardening.hostile_fhir",
        "--port",
        str(port),
        "--read-delay",
        str(read_delay),
    ]
    base = f"http://127.0.0.1:{port}"
    return _start(args, dict(os.environ), f"{base}/stats"), base


@pytest.fixture(scope="module")
def fhir() -> Iterator[str]:
    process, base = _fhir_server(read_delay=0.05)
    yield base
    _stop(process)


@pytest.fixture(scope="module")
def hanging() -> Iterator[str]:
    process, base = _fhir_server()
    yield base
    _stop(process)


@dataclass(frozen=True)
class Service:
    base: str
    pid: int
    log: Path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    port = _free_port()
    data = tmp_path_factory.mktemp("hostile-data")
    # The default timeouts (2 s per FHIR request, 3 s per evaluation), as in the report.
    env = {**os.environ, "CDS_DATA_DIR": str(data), "CDS_BODY_TIMEOUT_SECONDS": "1"}
    base = f"http://127.0.0.1:{port}"
    log = data / "service.stderr"
    process = _start(
        ["-m", "cds_service", "serve", "--port", str(port)], env, f"{base}/health", log
    )
    yield Service(base, process.pid, log)
    _stop(process)


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _call(fhir_server: str, prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": fhir_server,
        "context": {
            "userId": "Practitioner/example",
            "patientId": "pt-hostile",
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": ketamine_order()}]},
        },
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def _referencing(count: int) -> dict[str, Any]:
    requests = [
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": f"mr-{n}",
                "status": "active",
                "intent": "order",
                "subject": {"reference": "Patient/pt-hostile"},
                "medicationReference": {"reference": f"Medication/med-{n}"},
            }
        }
        for n in range(count)
    ]
    searchset = {"resourceType": "Bundle", "type": "searchset"}
    return {
        "medicationStatements": {**searchset, "entry": []},
        "medicationRequests": {**searchset, "entry": requests},
    }


def _topics(answer: httpx.Response) -> list[str]:
    return [card["source"]["topic"]["code"] for card in answer.json()["cards"]]


async def _fhir_reads(client: httpx.AsyncClient, fhir: str) -> int:
    return int((await client.get(f"{fhir}/stats")).json()["reads"])


async def test_4999_references_answer_within_the_deadline_while_health_keeps_answering(
    service: Service, fhir: str
) -> None:
    base = service.base
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        before = await _fhir_reads(client, fhir)
        body = _call(f"{fhir}/fhir", _referencing(REFERENCES))
        call = asyncio.create_task(client.post(SERVICE_PATH, json=body))
        while await _fhir_reads(client, fhir) == before:  # the reads have begun
            await asyncio.sleep(0.02)
        health = await client.get("/health", timeout=30)
        in_flight = not call.done()
        answer = await call
        reads = await _fhir_reads(client, fhir) - before

    assert health.status_code == 200
    assert in_flight, "/health answered while the hook call was still reading"
    assert answer.status_code == 200
    assert sorted(_topics(answer)) == ["BZD", "DATAGAP"]
    assert f"{REFERENCES - 200:,} of {REFERENCES:,} not read" in answer.text
    assert TIMED_OUT not in answer.text  # every read it made finished before the deadline
    assert reads == 200


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS is read from /proc")
@pytest.mark.parametrize("kind", ["big", "bomb"])
async def test_huge_and_gzip_bomb_answers_stay_under_the_memory_bound_and_the_deadline(
    service: Service, fhir: str, kind: str
) -> None:
    base, pid = service.base, service.pid
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        answer = await client.post(SERVICE_PATH, json=_call(f"{fhir}/{kind}"))
        health = await client.get("/health")

    diagnostics = answer.json()["issue"][0]["diagnostics"]
    assert answer.status_code == 412
    assert diagnostics.count(TOO_LARGE) == 2  # both searches stopped at the byte cap...
    assert TIMED_OUT not in diagnostics  # ...not by the deadline
    assert health.status_code == 200
    assert _peak_rss_kb(pid) < PEAK_RSS_BOUND_KB


async def test_hanging_server_named_by_60_calls_does_not_fail_a_call_to_a_healthy_one(
    service: Service, fhir: str, hanging: str
) -> None:
    limits = httpx.Limits(max_connections=100)
    hung: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=service.base, timeout=120, limits=limits) as client:
        flooding = True

        async def keep_calling() -> None:  # one caller: always a call to the hanging server
            while flooding:
                hung.append(await client.post(SERVICE_PATH, json=_call(f"{hanging}/hang")))

        callers = [asyncio.create_task(keep_calling()) for _ in range(60)]
        await asyncio.sleep(2.5)  # past the first timeouts: the flood is in its steady state
        healthy = await client.post(SERVICE_PATH, json=_call(f"{fhir}/fhir"))
        flooding = False
        await asyncio.gather(*callers)

    assert healthy.status_code == 200, healthy.text
    assert _topics(healthy) == ["BZD"]  # the healthy server's clonazepam, no data gap
    assert len(hung) >= 60
    assert {answer.status_code for answer in hung} == {412}
    assert all(TIMED_OUT in answer.text for answer in hung)


def _post_head(service: Service, length: int) -> socket.socket:
    host, port = service.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (
        f"POST {SERVICE_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"hook": ')
    return sock


def _answered(service: Service, status: int) -> int:
    """How many hook calls the service's access log says it answered with ``status``."""
    lines = service.log.read_text("utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return sum(
        1
        for e in entries
        if e.get("logger") == "cds_service.access"
        and e.get("path") == SERVICE_PATH
        and e.get("status") == status
    )


def test_client_trickling_its_body_gets_408_and_the_connection_closed(service: Service) -> None:
    timeouts_before = _answered(service, 408)
    with _post_head(service, 10_000) as sock:
        for _ in range(600):  # one byte every 0.1 s, until the server says something
            if select.select([sock], [], [], 0.1)[0]:
                break
            sock.sendall(b" ")
        else:
            pytest.fail("the server was still reading a trickled body after 60 s")
        received: bytes | None = b""
        try:
            while chunk := sock.recv(65536):  # the answer, then the server closes the connection
                received = (received or b"") + chunk
        except ConnectionResetError:
            # A byte of the trickle that reaches the server after it closed the connection makes its
            # kernel answer with a reset, which may drop the 408 before it is read here (a TCP race,
            # seen once in a dozen runs of the suite): the connection is closed all the same, and the access log
            # below says what was answered.
            received = None

    if received is not None:
        assert received.startswith(b"HTTP/1.1 408")
        assert b'"code":"timeout"' in received
    deadline = time.monotonic() + 10
    while _answered(service, 408) == timeouts_before:
        assert time.monotonic() < deadline, "no 408 in the access log"
        time.sleep(0.05)


def test_client_disconnecting_mid_body_is_logged_as_a_disconnect(service: Service) -> None:
    _post_head(service, 10_000).close()
    deadline = time.monotonic() + 30
    while b"client disconnected mid-body" not in service.log.read_bytes():
        assert time.monotonic() < deadline, "the disconnect was not logged"
        time.sleep(0.05)


def test_service_stderr_through_all_of_this_is_json_lines_without_errors(service: Service) -> None:
    lines = service.log.read_text("utf-8").splitlines()

    assert lines  # at least the start-up warning; with the tests above, every failed FHIR read
    assert [line for line in lines if not line.startswith("{")] == []  # no plain traceback
    assert [e for e in map(json.loads, lines) if e["level"] == "ERROR"] == []
