"""Fixtures of the knowledge-base tests: a private copy of ``cards/`` that a test may break."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rules.kb_files import copy_cards


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    """A private copy of the bundled knowledge base that a test may break."""
    return copy_cards(tmp_path)
