"""The one rule for ../shared/reference/: run when present, skip with one reason when absent (fail in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import reference_data


def test_require_reference_data_when_present_lets_the_test_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference_data, "REFERENCE", tmp_path)

    reference_data.require_reference_data()

    assert reference_data.reference_data_present()


def test_require_reference_data_when_absent_skips_with_the_one_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference_data, "REFERENCE", tmp_path / "absent")
    monkeypatch.delenv(reference_data.REQUIRE_ENV, raising=False)

    with pytest.raises(pytest.skip.Exception) as skipped:
        reference_data.require_reference_data()

    assert str(skipped.value) == reference_data.ABSENT


def test_require_reference_data_when_absent_under_the_ci_flag_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference_data, "REFERENCE", tmp_path / "absent")
    monkeypatch.setenv(reference_data.REQUIRE_ENV, "1")

    with pytest.raises(pytest.fail.Exception, match="CDS_TEST_REQUIRE_REFERENCE=1 requires it"):
        reference_data.require_reference_data()
