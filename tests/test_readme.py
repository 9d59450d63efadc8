"""The README stays true: every setting is documented and CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

from cds_service.settings import Settings

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text("utf-8")


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if not line.startswith("#")]


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    missing = [name for name in Settings.model_fields if f"`CDS_{name.upper()}`" not in README]
    assert missing == []


def test_quick_start_is_exactly_two_commands() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert "serve" in commands[0]
    assert "scripts/check" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (REPO / ".ci" / "run").read_text("utf-8")
    assert _quick_start_commands()[1] in ci.splitlines()


def test_sample_request_named_in_the_readme_exists() -> None:
    for path in re.findall(r"cds-service evaluate (\S+\.json)", README):
        assert (REPO / path).is_file(), path
