"""A real FHIR R4 server for integration tests: sekmet-fhir, provisioned in its own venv, on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reference_data import FHIR_SAMPLES, REPO

REQUIREMENTS = Path(__file__).with_name("fhir-server-requirements.txt")
VENV = REPO / ".cache" / "sekmet-venv"
REQUIRE_ENV = "CDS_TEST_REQUIRE_INTEGRATION"
NOT_PROVISIONED = (
    "FHIR server not provisioned (or from older pins): run scripts/provision-fhir-server"
)
SYNTHEA = FHIR_SAMPLES / "synthea-smart-r4-2019"
BULK = FHIR_SAMPLES / "synthea-bulk-10-patients"
FIXTURES = REPO / "tests" / "fixtures" / "fhir"
SYNTHEA_ID_SYSTEM = "https://github.com/synthetichealth/synthea"


@dataclass(frozen=True)
class SekmetServer:
    base_url: str  # ends in /fhir, as its paging links do
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/fhir+json"}


def provisioned_executable(venv: Path = VENV) -> Path | None:
    """The ``sekmet`` executable scripts/provision-fhir-server installed from the current pins, if any."""
    executable = venv / "bin" / "sekmet"
    marker = venv / ".provisioned"
    current = marker.is_file() and marker.read_bytes() == REQUIREMENTS.read_bytes()
    return executable if current and executable.is_file() else None


def require_fhir_server(venv: Path = VENV) -> Path:
    """The provisioned server; otherwise skip, or fail under CDS_TEST_REQUIRE_INTEGRATION=1 (CI)."""
    executable = provisioned_executable(venv)
    if executable is not None:
        return executable
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{NOT_PROVISIONED}, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(NOT_PROVISIONED)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(work_dir: Path, port: int, token: str) -> Path:
    """Bearer-token check on (one static token), simulator off, base_url on the real port."""
    config = {
        "base_url": f"http://127.0.0.1:{port}/fhir",
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(work_dir / "data"),
        "server_auth": {"types": ["bearer"], "tokens": [token]},
        "simulator": {"enabled": False},
        "log_inbound": False,
    }
    path = work_dir / "settings.json"  # JSON is valid YAML, and sekmet reads it with yaml.safe_load
    path.write_text(json.dumps(config))
    return path


@contextmanager
def run_sekmet(executable: Path, work_dir: Path, token: str) -> Iterator[SekmetServer]:
    """Starts sekmet, waits until /metadata answers, stops it on exit."""
    port = free_port()
    config = write_config(work_dir, port, token)
    log = (work_dir / "sekmet.log").open("wb")
    env = {**os.environ, "SEKMET_CONFIG": str(config)}
    process = subprocess.Popen(
        [str(executable), "serve", "--config", str(config)],
        cwd=work_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = SekmetServer(base_url=f"http://127.0.0.1:{port}/fhir", token=token)
    try:
        _wait_until_up(server, process, work_dir / "sekmet.log")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(server: SekmetServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sekmet exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.base_url}/metadata", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"sekmet did not start within 60 s:\n{log.read_text()[-3000:]}")


def post_transaction(server: SekmetServer, bundle: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(server.base_url, json=bundle, headers=server.headers(), timeout=120)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def load_synthea(server: SekmetServer, file_prefix: str) -> str:
    """Loads one SMART sandbox patient (a POST transaction) and returns the server's Patient id."""
    (path,) = SYNTHEA.glob(f"{file_prefix}_*.json")
    result = post_transaction(server, json.loads(path.read_text()))
    for entry in result["entry"]:
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "Patient":
            return str(resource["id"])
    raise AssertionError(f"no Patient created from {path.name}")


def load_bulk_patient(server: SekmetServer, patient_id: str) -> int:
    """Loads a bulk-export patient and all its MedicationRequests (PUT, fixed ids); returns the count.

    Practitioner/Encounter references are dropped: they are conditional references to data not loaded,
    and the medication rules never read them.
    """
    patient = _ndjson(BULK / "Patient.000.ndjson", lambda r: r["id"] == patient_id)
    orders = _ndjson(
        BULK / "MedicationRequest.000.ndjson",
        lambda r: r["subject"]["reference"] == f"Patient/{patient_id}",
    )
    for order in orders:
        for key in ("requester", "encounter", "reasonReference"):
            order.pop(key, None)
    post_transaction(server, _put_transaction([*patient, *orders]))
    return len(orders)


def load_handwritten(server: SekmetServer, today: datetime | None = None) -> None:
    """Loads tests/fixtures/fhir/handwritten-patients.json, dating the MAOI stop five days back."""
    now = today or datetime.now(UTC)
    text = (FIXTURES / "handwritten-patients.json").read_text()
    text = text.replace("${DAYS_AGO_5}", (now - timedelta(days=5)).date().isoformat())
    post_transaction(server, json.loads(text))


def _ndjson(path: Path, keep: Any) -> list[dict[str, Any]]:
    with path.open() as lines:
        return [record for line in lines if keep(record := json.loads(line))]


def _put_transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in resources
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
