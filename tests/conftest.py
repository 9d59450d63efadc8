"""Shared fixtures: explicit settings, an app per test on one shared knowledge base, and a TestClient."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.settings import Settings, default_cards_dir
from tests.pipeline import knowledge_base

# Every test run sweeps all log records for tokens and patient identifiers (tests/hardening/logsweep.py),
# can reach a real PostgreSQL (tests/postgres_server.py), runs offline: only loopback can be reached
# (tests/offline.py), and skips the tests marked reference_data, with one reason, when
# ../shared/reference/ is absent (tests/reference_data.py).
pytest_plugins = [
    "tests.hardening.logsweep",
    "tests.postgres_server",
    "tests.offline",
    "tests.reference_data",
]

SERVICE_URL = "/cds-services/ketamine-infusion-check"

# The fuzz tests (hypothesis, schemathesis) bound their own example counts; none may fail on how long
# one example took on a busy machine, and a failure prints the blob that replays it.
hypothesis.settings.register_profile("cds-tests", deadline=None, print_blob=True)
hypothesis.settings.load_profile("cds-tests")


def pytest_collection_finish(session: pytest.Session) -> None:
    # What collection imported (FastAPI, pydantic, hypothesis, schemathesis, every test module) lives as
    # long as the session: keep it out of the collector's full sweeps (about 3 s of a run), as the
    # server does at start-up.
    gc.freeze()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings from explicit values only (no environment, no .env file)."""
    values: dict[str, Any] = {"data_dir": tmp_path / "data", **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_app(settings: Settings) -> FastAPI:
    """``create_app`` on the session's one loaded knowledge base (loading it is the slow part).

    Settings that name another ``cards_dir`` get that knowledge base, loaded for them.
    """
    bundled = settings.cards_dir == default_cards_dir()
    return create_app(settings, kb=knowledge_base() if bundled else None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return make_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
