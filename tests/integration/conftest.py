"""Session fixture: one sekmet FHIR server with the synthetic and hand-written patients loaded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.sekmet import (
    SekmetServer,
    load_bulk_patient,
    load_handwritten,
    load_synthea,
    run_sekmet,
)

BULK_PATIENT = "79a66c97-6131-3213-f3c9-4606946ab056"


@dataclass(frozen=True)
class LoadedServer:
    server: SekmetServer
    patients: dict[str, str]  # short name -> Patient id on the server
    bulk_orders: int


@pytest.fixture(scope="session")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedServer]:
    work_dir = tmp_path_factory.mktemp("sekmet")
    with run_sekmet(work_dir, token="integration-token-3c1f") as server:
        patients = {name: load_synthea(server, name) for name in ("Alberto", "Delbert", "Rachael")}
        patients["Gerardo"] = load_synthea(server, "Gerardo")
        bulk_orders = load_bulk_patient(server, BULK_PATIENT)
        patients["bulk"] = BULK_PATIENT
        load_handwritten(server)
        yield LoadedServer(server, patients, bulk_orders)
