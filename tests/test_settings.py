"""Settings: read from CDS_-prefixed environment, validated, and never mutating what they were given."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.settings import Settings
from tests.conftest import make_settings


def test_settings_when_cds_prefixed_environment_set_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CDS_AUTH", "jwt")
    monkeypatch.setenv("CDS_RULE_OVERRIDES", '{"BZD": {"hold_before_hours": 24}}')
    monkeypatch.setenv("CDS_DATABASE_URL", "sqlite:////tmp/x.db")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.auth == "jwt"
    assert settings.rule_overrides["BZD"].hold_before_hours == 24
    assert settings.effective_database_url == "sqlite:////tmp/x.db"


def test_settings_when_jwt_algorithm_symmetric_refuse_it() -> None:
    with pytest.raises(ValueError, match="HS256"):
        Settings(_env_file=None, jwt_algorithms=("ES384", "HS256"))  # type: ignore[call-arg]


def test_settings_when_no_database_url_use_a_sqlite_file_under_data_dir(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert (
        settings.effective_database_url == f"sqlite:///{(tmp_path / 'data' / 'cds.db').resolve()}"
    )


def test_settings_when_site_timezone_unknown_refuses_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        make_settings(tmp_path, timezone="Mars/Olympus")


def test_settings_when_validated_leave_the_callers_values_unchanged() -> None:
    values = {"cors_origins": "https://a.example, https://b.example"}
    Settings.model_validate(values)
    assert values == {"cors_origins": "https://a.example, https://b.example"}
