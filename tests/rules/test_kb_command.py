"""``cds-service kb check [DIR]`` and ``kb schemas [DIR]``: the knowledge-base checker on the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cds_service import cli
from tests.rules.kb_files import edit_yaml


def test_kb_check_without_dir_checks_bundled_cards_and_prints_ok(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["kb", "check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 16 rules, 15 case files, 1 combination, ")
    assert len(out.splitlines()) == 1


def test_kb_check_when_files_broken_exits_one_listing_each_problem_on_its_line(
    cards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_yaml(cards / "rules" / "MAOI.yaml", {"washout_dayz": 14, "version": 0})
    (cards / "rules" / "NMDA.cases.yaml").unlink()

    assert cli.main(["kb", "check", str(cards)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "cards/rules/MAOI.yaml: version: Input should be greater than or equal to 1",
        "cards/rules/MAOI.yaml: washout_dayz: Extra inputs are not permitted",
        "cards/rules/NMDA.cases.yaml: cases: active rule NMDA needs at least one 'fires' case",
        "cards/rules/NMDA.cases.yaml: cases: active rule NMDA needs at least one 'silent' case",
    ]
    assert err == f"invalid: 4 problems in {cards}\n"


def test_kb_schemas_rewrites_the_schema_files_of_dir(
    cards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(cards / "schema")

    assert cli.main(["kb", "schemas", str(cards)]) == 0
    assert sorted(p.name for p in (cards / "schema").iterdir()) == [
        "cases.schema.json",
        "manifest.schema.json",
        "patient-context.schema.json",
        "patient.schema.json",
        "rule.schema.json",
        "topics.schema.json",
        "valueset.schema.json",
    ]
    assert capsys.readouterr().out.count("wrote ") == 7
