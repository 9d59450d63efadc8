"""Data kept outside the repository, in ``../shared/reference/``: the one place that decides its absence.

Tests that read it carry ``@pytest.mark.reference_data`` (or call ``require_reference_data()`` from a
fixture). When the folder is absent, as in a fresh clone, they skip with one reason; when it is present,
as in CI, which lays ``shared/`` beside the clone, they run. With ``CDS_TEST_REQUIRE_REFERENCE=1``
(set by ``.ci/run`` in CI) an absent folder fails them instead, so the data cannot vanish unnoticed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"
FHIR_SAMPLES = REFERENCE / "fhir-samples"
VALUESETS = REFERENCE / "valuesets"
REQUIRE_ENV = "CDS_TEST_REQUIRE_REFERENCE"
ABSENT = (
    "reference data absent: ../shared/reference/ (kept outside the repository) is not beside this"
    " clone"
)


def reference_data_present() -> bool:
    return REFERENCE.is_dir()


def require_reference_data() -> None:
    """Skip the calling test (fail it under CDS_TEST_REQUIRE_REFERENCE=1) when the data is absent."""
    if reference_data_present():
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{ABSENT}, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(ABSENT)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("reference_data") is not None:
        require_reference_data()
