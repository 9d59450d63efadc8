"""Finding the provisioned FHIR server: used when current, skipped locally when not, a failure in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration import sekmet


def _provision(venv: Path, requirements: bytes) -> Path:
    executable = venv / "bin" / "sekmet"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    (venv / ".provisioned").write_bytes(requirements)
    return executable


def test_require_fhir_server_when_provisioned_from_current_pins_returns_it(tmp_path: Path) -> None:
    executable = _provision(tmp_path, sekmet.REQUIREMENTS.read_bytes())

    assert sekmet.require_fhir_server(tmp_path) == executable


def test_require_fhir_server_when_pins_changed_since_skips_locally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(sekmet.REQUIRE_ENV, raising=False)
    _provision(tmp_path, b"sekmet-fhir==0.0.1\n")

    with pytest.raises(pytest.skip.Exception, match="run scripts/provision-fhir-server"):
        sekmet.require_fhir_server(tmp_path)


def test_require_fhir_server_when_absent_under_the_ci_flag_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sekmet.REQUIRE_ENV, "1")

    with pytest.raises(pytest.fail.Exception, match="CDS_TEST_REQUIRE_INTEGRATION=1 requires it"):
        sekmet.require_fhir_server(tmp_path / "never-provisioned")
