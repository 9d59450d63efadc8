"""Session fixture: one sekmet FHIR server with the hand-written (and, with ../shared, Synthea) patients.

The server is provisioned beforehand by scripts/provision-fhir-server (``.ci/run`` calls it); without
it these tests skip locally and fail in CI. Synthea patients come from ../shared/reference/: tests that
use them are marked ``reference_data``; the hand-written ones (tests/fixtures/fhir/) always load.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.sekmet import (
    SekmetServer,
    load_bulk_patient,
    load_handwritten,
    load_synthea,
    require_fhir_server,
    run_sekmet,
)
from tests.reference_data import reference_data_present

BULK_PATIENT = "79a66c97-6131-3213-f3c9-4606946ab056"
SYNTHEA_PATIENTS = ("Alberto", "Rachael", "Gerardo")  # the ones the tests read


@dataclass(frozen=True)
class LoadedServer:
    server: SekmetServer
    patients: dict[str, str]  # short name -> Patient id on the server (Synthea ones need ../shared)
    bulk_orders: int


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Decided here rather than in the fixture so that a missing server is one reason, reported once.
    if "sekmet" in getattr(item, "fixturenames", ()):
        require_fhir_server()


@pytest.fixture(scope="session")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedServer]:
    executable = require_fhir_server()
    work_dir = tmp_path_factory.mktemp("sekmet")
    with run_sekmet(executable, work_dir, token="integration-token-3c1f") as server:
        load_handwritten(server)
        patients: dict[str, str] = {}
        bulk_orders = 0
        if reference_data_present():
            patients = {name: load_synthea(server, name) for name in SYNTHEA_PATIENTS}
            bulk_orders = load_bulk_patient(server, BULK_PATIENT)
            patients["bulk"] = BULK_PATIENT
        yield LoadedServer(server, patients, bulk_orders)
