"""Fixtures for the FHIR data-access tests: a respx router scoped to the EHR's FHIR base."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from tests.fhir.builders import BASE


@pytest.fixture
def fhir_server() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
