"""The composition root: start-up warnings of create_app."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import make_app, make_settings


def test_create_app_when_auth_off_warns_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        make_app(make_settings(tmp_path, auth="off"))
    assert any("CDS_AUTH=off" in r.getMessage() for r in caplog.records)
