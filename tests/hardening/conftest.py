"""Hardening tests: make sure the whole-session log sweep runs whenever this folder is collected."""

from __future__ import annotations

import pytest

from tests.hardening import logsweep

_PLUGIN_NAME = "tests.hardening.logsweep"


def pytest_configure(config: pytest.Config) -> None:
    # tests/conftest.py may already list it in pytest_plugins; register it only once.
    if not config.pluginmanager.has_plugin(_PLUGIN_NAME):
        config.pluginmanager.register(logsweep, _PLUGIN_NAME)
