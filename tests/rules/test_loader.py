"""The knowledge-base loader: the bundled cards load, and every kind of bad file stops start-up."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from cds_service.errors import RuleSetInvalid
from cds_service.rules.loader import load_knowledge_base, main, write_json_schemas

CARDS_DIR = Path(__file__).resolve().parents[2] / "cards"


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    """A private copy of the bundled knowledge base that a test may break."""
    target = tmp_path / "cards"
    shutil.copytree(CARDS_DIR, target)
    return target


def _edit(path: Path, change: dict[str, object]) -> None:
    data = yaml.safe_load(path.read_text("utf-8"))
    data.update(change)
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")


def test_load_bundled_cards_returns_every_rule_with_its_cases() -> None:
    kb = load_knowledge_base(CARDS_DIR)

    rule_files = {p.name.removesuffix(".yaml") for p in (CARDS_DIR / "rules").glob("*.yaml")}
    assert {rule.id for rule in kb.rules} == {n for n in rule_files if not n.endswith(".cases")}
    assert set(kb.cases) == {n.removesuffix(".cases") for n in rule_files if n.endswith(".cases")}
    assert kb.manifest.ketamine.rxcui == ("6130",)
    assert len(kb.digest) == 64


def test_load_bundled_cards_is_fast() -> None:
    load_knowledge_base(CARDS_DIR)
    started = time.perf_counter()
    load_knowledge_base(CARDS_DIR)
    assert time.perf_counter() - started < 0.5  # measured ~35 ms; generous for slow CI


def test_load_same_files_twice_gives_same_digest(cards: Path) -> None:
    assert load_knowledge_base(cards).digest == load_knowledge_base(CARDS_DIR).digest


def test_load_when_a_rule_text_changes_changes_digest(cards: Path) -> None:
    before = load_knowledge_base(cards).digest
    _edit(cards / "rules" / "BZD.yaml", {"monitoring": "Sedation and SpO2 every 15 minutes."})
    assert load_knowledge_base(cards).digest != before


def test_load_when_hold_hours_wrong_type_names_file_and_field(cards: Path) -> None:
    path = cards / "rules" / "BZD.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["hold"]["before_hours"] = "twelve"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")

    with pytest.raises(RuleSetInvalid, match=r"^cards/rules/BZD\.yaml: hold\.before_hours: "):
        load_knowledge_base(cards)


def test_load_when_member_rxcui_not_digits_names_list_position(cards: Path) -> None:
    path = cards / "rules" / "LTG.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["members"][0]["rxcui"] = "28439x"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")

    with pytest.raises(RuleSetInvalid, match=r"cards/rules/LTG\.yaml: members\[0\]\.rxcui: "):
        load_knowledge_base(cards)


def test_load_when_unknown_field_rejects_typo(cards: Path) -> None:
    _edit(cards / "rules" / "MAOI.yaml", {"washout_dayz": 14})

    with pytest.raises(RuleSetInvalid, match=r"MAOI\.yaml: washout_dayz: Extra inputs"):
        load_knowledge_base(cards)


def test_load_when_yaml_malformed_names_file_and_line(cards: Path) -> None:
    path = cards / "rules" / "STIM.yaml"
    path.write_text(path.read_text("utf-8") + "\nbroken: [unclosed\n", "utf-8")

    with pytest.raises(RuleSetInvalid, match=r"cards/rules/STIM\.yaml: not valid YAML: line \d+"):
        load_knowledge_base(cards)


def test_load_when_manifest_missing_names_it(cards: Path) -> None:
    (cards / "knowledge-base.yaml").unlink()

    with pytest.raises(RuleSetInvalid, match=r"cards/knowledge-base\.yaml: file not found"):
        load_knowledge_base(cards)


def test_load_when_manifest_field_invalid_names_it(cards: Path) -> None:
    _edit(cards / "knowledge-base.yaml", {"version": "one"})

    with pytest.raises(RuleSetInvalid, match=r"cards/knowledge-base\.yaml: version: "):
        load_knowledge_base(cards)


def test_load_when_two_files_share_an_id_names_both(cards: Path) -> None:
    shutil.copy(cards / "rules" / "BZD.yaml", cards / "rules" / "BZD2.yaml")

    with pytest.raises(RuleSetInvalid, match=r"BZD\.yaml, cards/rules/BZD2\.yaml: id: duplicate"):
        load_knowledge_base(cards)


def test_load_when_id_differs_from_file_name_raises(cards: Path) -> None:
    (cards / "rules" / "XANTHINE.yaml").rename(cards / "rules" / "THEO.yaml")

    with pytest.raises(RuleSetInvalid, match=r"THEO\.yaml: id: 'XANTHINE' does not match"):
        load_knowledge_base(cards)


def test_load_when_cases_name_unknown_rule_raises(cards: Path) -> None:
    path = cards / "rules" / "GHOST.cases.yaml"
    shutil.copy(cards / "rules" / "BZD.cases.yaml", path)
    _edit(path, {"rule": "GHOST"})

    with pytest.raises(RuleSetInvalid, match=r"GHOST\.cases\.yaml: rule: no rule file defines"):
        load_knowledge_base(cards)


def test_load_when_cases_file_names_another_rule_raises(cards: Path) -> None:
    _edit(cards / "rules" / "LTG.cases.yaml", {"rule": "AED"})

    with pytest.raises(RuleSetInvalid, match=r"LTG\.cases\.yaml: rule: 'AED' does not match"):
        load_knowledge_base(cards)


def test_load_when_active_rule_has_no_silent_case_raises(cards: Path) -> None:
    path = cards / "rules" / "THYROID.cases.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["cases"] = [c for c in data["cases"] if c["expect"]["outcome"] != "silent"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")

    with pytest.raises(RuleSetInvalid, match=r"THYROID\.cases\.yaml: cases: .* 'silent' case"):
        load_knowledge_base(cards)


def test_load_when_active_rule_has_no_cases_file_raises(cards: Path) -> None:
    (cards / "rules" / "NMDA.cases.yaml").unlink()

    with pytest.raises(RuleSetInvalid, match=r"NMDA\.cases\.yaml: cases: active rule NMDA"):
        load_knowledge_base(cards)


def test_load_when_draft_rule_has_no_cases_accepts_it(cards: Path) -> None:
    (cards / "rules" / "NMDA.cases.yaml").unlink()
    _edit(cards / "rules" / "NMDA.yaml", {"status": "draft"})

    kb = load_knowledge_base(cards)

    assert "NMDA" not in {rule.id for rule in kb.active_rules}


def test_load_when_summary_has_unknown_placeholder_raises(cards: Path) -> None:
    path = cards / "rules" / "OPIOID.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["summary"]["default"] = "Hold {drug} before the ketamine infusion"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")

    with pytest.raises(
        RuleSetInvalid, match=r"OPIOID\.yaml: summary\.default: unknown placeholder"
    ):
        load_knowledge_base(cards)


def test_load_when_summary_has_unbalanced_brace_raises(cards: Path) -> None:
    path = cards / "rules" / "LTG.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["summary"]["light"] = "Skip {drugs before the ketamine infusion"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")

    with pytest.raises(RuleSetInvalid, match=r"LTG\.yaml: summary\.light: "):
        load_knowledge_base(cards)


def test_load_when_file_is_a_list_not_a_mapping_raises(cards: Path) -> None:
    (cards / "rules" / "AED.yaml").write_text("- id: AED\n", "utf-8")

    with pytest.raises(RuleSetInvalid, match=r"AED\.yaml: expected a mapping at the top level"):
        load_knowledge_base(cards)


def test_load_when_rules_directory_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(RuleSetInvalid, match="directory not found"):
        load_knowledge_base(tmp_path)


def test_write_json_schemas_writes_three_loadable_files(tmp_path: Path) -> None:
    written = write_json_schemas(tmp_path / "schema")

    assert sorted(p.name for p in written) == [
        "cases.schema.json",
        "manifest.schema.json",
        "rule.schema.json",
    ]
    assert all(yaml.safe_load(p.read_text("utf-8"))["type"] == "object" for p in written)


def test_main_when_cards_valid_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cards-dir", str(CARDS_DIR)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_main_when_cards_invalid_exits_one(cards: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (cards / "knowledge-base.yaml").unlink()

    assert main(["--cards-dir", str(cards)]) == 1
    assert "knowledge-base.yaml" in capsys.readouterr().err


def test_main_write_schemas_writes_into_cards_schema(cards: Path) -> None:
    shutil.rmtree(cards / "schema")

    assert main(["--cards-dir", str(cards), "--write-schemas"]) == 0
    assert (cards / "schema" / "rule.schema.json").is_file()
