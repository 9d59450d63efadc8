"""The knowledge-base loader: the bundled cards load, and every problem of bad files stops start-up."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cds_service.errors import RuleSetInvalid
from cds_service.rules.loader import (
    check_knowledge_base,
    load_knowledge_base,
    main,
    write_json_schemas,
)
from tests.rules.kb_files import CARDS_DIR, edit_yaml, read_yaml, set_status


def _problems(cards: Path) -> list[str]:
    kb, problems = check_knowledge_base(cards)
    assert kb is None
    return [str(problem) for problem in problems]


def test_load_bundled_cards_returns_every_rule_with_its_cases() -> None:
    kb = load_knowledge_base(CARDS_DIR)

    rule_files = {p.name.removesuffix(".yaml") for p in (CARDS_DIR / "rules").glob("*.yaml")}
    assert {rule.id for rule in kb.rules} == {n for n in rule_files if not n.endswith(".cases")}
    assert set(kb.cases) == {n.removesuffix(".cases") for n in rule_files if n.endswith(".cases")}
    assert kb.manifest.ketamine.rxcui == ("6130",)
    assert len(kb.digest) == 64


def test_check_bundled_cards_finds_no_problem() -> None:
    kb, problems = check_knowledge_base(CARDS_DIR)

    assert problems == ()
    assert kb is not None


def test_load_same_files_twice_gives_same_digest(cards: Path) -> None:
    assert load_knowledge_base(cards).digest == load_knowledge_base(CARDS_DIR).digest


def test_load_when_a_rule_text_changes_changes_digest(cards: Path) -> None:
    before = load_knowledge_base(cards).digest
    edit_yaml(cards / "rules" / "BZD.yaml", {"monitoring": "Sedation and SpO2 every 15 minutes."})
    assert load_knowledge_base(cards).digest != before


def test_load_when_topics_file_changes_changes_digest(cards: Path) -> None:
    before = load_knowledge_base(cards).digest
    path = cards / "topics.yaml"
    path.write_text(path.read_text("utf-8") + "# reviewed\n", "utf-8")
    assert load_knowledge_base(cards).digest != before


def test_load_when_hold_hours_wrong_type_names_file_and_field(cards: Path) -> None:
    edit_yaml(cards / "rules" / "BZD.yaml", lambda data: data["hold"].update(before_hours="x"))

    with pytest.raises(RuleSetInvalid, match=r"^cards/rules/BZD\.yaml: hold\.before_hours: "):
        load_knowledge_base(cards)


def test_load_when_member_rxcui_not_digits_names_list_position(cards: Path) -> None:
    edit_yaml(cards / "rules" / "LTG.yaml", lambda data: data["members"][0].update(rxcui="1x"))

    with pytest.raises(RuleSetInvalid, match=r"cards/rules/LTG\.yaml: members\[0\]\.rxcui: "):
        load_knowledge_base(cards)


def test_load_when_unknown_field_rejects_typo(cards: Path) -> None:
    edit_yaml(cards / "rules" / "MAOI.yaml", {"washout_dayz": 14})

    with pytest.raises(RuleSetInvalid, match=r"MAOI\.yaml: washout_dayz: Extra inputs"):
        load_knowledge_base(cards)


def test_load_when_one_file_has_several_errors_reports_each_with_its_field(cards: Path) -> None:
    def break_three_fields(data: dict[str, Any]) -> None:
        data["version"] = 0
        data["hold"]["before_hours"] = "twelve"
        data["members"][2]["name"] = "Clonazepam"

    edit_yaml(cards / "rules" / "BZD.yaml", break_three_fields)

    problems = _problems(cards)

    assert [problem.split(": ")[1] for problem in problems] == [
        "version",
        "members[2].name",
        "hold.before_hours",
    ]
    assert all(problem.startswith("cards/rules/BZD.yaml: ") for problem in problems)


def test_load_when_several_files_are_broken_raises_with_every_problem_first_one_first(
    cards: Path,
) -> None:
    edit_yaml(cards / "knowledge-base.yaml", {"version": "one"})
    edit_yaml(cards / "rules" / "MAOI.yaml", {"washout_dayz": 14})
    edit_yaml(cards / "rules" / "STIM.cases.yaml", {"rule": "STIMX"})

    with pytest.raises(RuleSetInvalid) as raised:
        load_knowledge_base(cards)

    lines = str(raised.value).splitlines()
    assert lines[0].startswith("cards/knowledge-base.yaml: version: ")
    assert [line.split(": ")[0] for line in lines] == [
        "cards/knowledge-base.yaml",
        "cards/rules/MAOI.yaml",
        "cards/rules/STIM.cases.yaml",
    ]


def test_load_when_a_rule_file_is_unreadable_reports_it_without_a_cascade(cards: Path) -> None:
    path = cards / "rules" / "BZD.yaml"
    path.write_text(path.read_text("utf-8") + "\nbroken: [unclosed\n", "utf-8")

    problems = _problems(cards)

    assert len(problems) == 1
    assert problems[0].startswith("cards/rules/BZD.yaml: not valid YAML: line ")


def test_load_when_yaml_malformed_names_file_and_line(cards: Path) -> None:
    path = cards / "rules" / "STIM.yaml"
    path.write_text(path.read_text("utf-8") + "\nbroken: [unclosed\n", "utf-8")

    with pytest.raises(RuleSetInvalid, match=r"cards/rules/STIM\.yaml: not valid YAML: line \d+"):
        load_knowledge_base(cards)


def test_load_when_manifest_missing_names_it(cards: Path) -> None:
    (cards / "knowledge-base.yaml").unlink()

    assert _problems(cards) == ["cards/knowledge-base.yaml: file not found"]


def test_load_when_manifest_field_invalid_names_it(cards: Path) -> None:
    edit_yaml(cards / "knowledge-base.yaml", {"version": "one"})

    with pytest.raises(RuleSetInvalid, match=r"cards/knowledge-base\.yaml: version: "):
        load_knowledge_base(cards)


def test_load_when_combination_group_names_nothing_reports_the_group_field(cards: Path) -> None:
    edit_yaml(
        cards / "knowledge-base.yaml",
        lambda data: data["combinations"][0]["groups"].append({"name": "nothing at all"}),
    )

    assert _problems(cards) == [
        "cards/knowledge-base.yaml: combinations[0].groups[5].topics: "
        "a group needs topics or ingredients"
    ]


def test_load_when_interaction_class_has_no_members_reports_the_members_field(
    cards: Path,
) -> None:
    edit_yaml(cards / "rules" / "THYROID.yaml", {"members": []})

    assert "cards/rules/THYROID.yaml: members: an interaction class needs at least one member" in (
        _problems(cards)
    )


def test_load_when_data_gap_card_has_members_reports_the_members_field(cards: Path) -> None:
    edit_yaml(cards / "rules" / "DATAGAP.yaml", {"members": [{"name": "clonazepam"}]})

    assert _problems(cards) == [
        "cards/rules/DATAGAP.yaml: members: the data-gap card has no members"
    ]


def test_load_when_rule_copied_under_another_name_reports_the_name_mismatch_only(
    cards: Path,
) -> None:
    shutil.copy(cards / "rules" / "BZD.yaml", cards / "rules" / "BZD2.yaml")

    assert _problems(cards) == ["cards/rules/BZD2.yaml: id: 'BZD' does not match the file name"]


def test_load_when_id_differs_from_file_name_reports_only_that(cards: Path) -> None:
    (cards / "rules" / "XANTHINE.yaml").rename(cards / "rules" / "THEO.yaml")

    assert _problems(cards) == [
        "cards/rules/THEO.yaml: id: 'XANTHINE' does not match the file name"
    ]


def test_load_when_cases_name_unknown_rule_raises(cards: Path) -> None:
    path = cards / "rules" / "GHOST.cases.yaml"
    shutil.copy(cards / "rules" / "BZD.cases.yaml", path)
    edit_yaml(path, {"rule": "GHOST"})

    assert _problems(cards) == ["cards/rules/GHOST.cases.yaml: rule: no rule file defines 'GHOST'"]


def test_load_when_cases_file_names_another_rule_raises(cards: Path) -> None:
    edit_yaml(cards / "rules" / "LTG.cases.yaml", {"rule": "AED"})

    with pytest.raises(RuleSetInvalid, match=r"LTG\.cases\.yaml: rule: 'AED' does not match"):
        load_knowledge_base(cards)


def test_load_when_two_cases_share_a_name_reports_the_second(cards: Path) -> None:
    def rename(data: dict[str, Any]) -> None:
        data["cases"][1]["name"] = data["cases"][0]["name"]

    edit_yaml(cards / "rules" / "LTG.cases.yaml", rename)

    assert _problems(cards) == [
        f"cards/rules/LTG.cases.yaml: cases[1].name: {_first_case('LTG')!r} is listed twice "
        "(first at cases[0])"
    ]


def _first_case(topic: str) -> str:
    return str(read_yaml(CARDS_DIR / "rules" / f"{topic}.cases.yaml")["cases"][0]["name"])


def test_load_when_firing_case_has_no_indicator_names_the_case(cards: Path) -> None:
    edit_yaml(
        cards / "rules" / "BZD.cases.yaml", lambda data: data["cases"][0]["expect"].pop("indicator")
    )

    assert _problems(cards) == [
        "cards/rules/BZD.cases.yaml: cases[0].expect.indicator: "
        "a case that fires states the expected indicator"
    ]


def test_load_when_active_rule_has_no_silent_case_raises(cards: Path) -> None:
    def drop_silent(data: dict[str, Any]) -> None:
        data["cases"] = [c for c in data["cases"] if c["expect"]["outcome"] != "silent"]

    edit_yaml(cards / "rules" / "THYROID.cases.yaml", drop_silent)

    with pytest.raises(RuleSetInvalid, match=r"THYROID\.cases\.yaml: cases: .* 'silent' case"):
        load_knowledge_base(cards)


def test_load_when_active_rule_has_no_cases_file_reports_both_missing_outcomes(
    cards: Path,
) -> None:
    (cards / "rules" / "NMDA.cases.yaml").unlink()

    assert _problems(cards) == [
        "cards/rules/NMDA.cases.yaml: cases: active rule NMDA needs at least one 'fires' case",
        "cards/rules/NMDA.cases.yaml: cases: active rule NMDA needs at least one 'silent' case",
    ]


def test_load_when_draft_rule_has_no_cases_accepts_it(cards: Path) -> None:
    (cards / "rules" / "NMDA.cases.yaml").unlink()
    set_status(cards, "NMDA", "draft")

    kb = load_knowledge_base(cards)

    assert "NMDA" not in {rule.id for rule in kb.active_rules}


def test_load_when_summary_has_unknown_placeholder_raises(cards: Path) -> None:
    edit_yaml(
        cards / "rules" / "OPIOID.yaml",
        lambda data: data["summary"].update(default="Hold {drug} before the ketamine infusion"),
    )

    assert _problems(cards) == [
        "cards/rules/OPIOID.yaml: summary.default: unknown placeholder {drug}"
    ]


def test_load_when_summary_has_positional_placeholder_raises(cards: Path) -> None:
    edit_yaml(
        cards / "rules" / "OPIOID.yaml",
        lambda data: data["summary"].update(default="Hold {} before the ketamine infusion"),
    )

    assert _problems(cards) == ["cards/rules/OPIOID.yaml: summary.default: unknown placeholder {}"]


def test_load_when_summary_has_unbalanced_brace_raises(cards: Path) -> None:
    edit_yaml(
        cards / "rules" / "LTG.yaml",
        lambda data: data["summary"].update(light="Skip {drugs before the ketamine infusion"),
    )

    with pytest.raises(RuleSetInvalid, match=r"LTG\.yaml: summary\.light: "):
        load_knowledge_base(cards)


def test_load_when_file_is_a_list_not_a_mapping_raises(cards: Path) -> None:
    (cards / "rules" / "AED.yaml").write_text("- id: AED\n", "utf-8")

    with pytest.raises(RuleSetInvalid, match=r"AED\.yaml: expected a mapping at the top level"):
        load_knowledge_base(cards)


def test_load_when_a_file_is_a_directory_says_it_cannot_be_read(cards: Path) -> None:
    (cards / "topics.yaml").unlink()
    (cards / "topics.yaml").mkdir()

    assert _problems(cards) == ["cards/topics.yaml: cannot be read: Is a directory"]


def test_load_when_rules_directory_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(RuleSetInvalid, match="directory not found"):
        load_knowledge_base(tmp_path)


def test_write_json_schemas_writes_one_loadable_file_per_kind_of_file(tmp_path: Path) -> None:
    written = write_json_schemas(tmp_path / "schema")

    assert sorted(p.name for p in written) == [
        "cases.schema.json",
        "manifest.schema.json",
        "patient-context.schema.json",
        "patient.schema.json",
        "rule.schema.json",
        "topics.schema.json",
        "valueset.schema.json",
    ]
    assert all(read_yaml(p)["type"] == "object" for p in written)


def test_main_when_cards_valid_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cards-dir", str(CARDS_DIR)]) == 0
    assert capsys.readouterr().out.startswith("ok: 16 rules, ")


def test_main_when_cards_invalid_exits_one_listing_each_problem(
    cards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cards / "knowledge-base.yaml").unlink()
    (cards / "topics.yaml").unlink()

    assert main(["--cards-dir", str(cards)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "cards/knowledge-base.yaml: file not found",
        "cards/topics.yaml: file not found",
    ]
    assert err.startswith("invalid: 2 problems in ")


def test_main_write_schemas_writes_into_cards_schema(cards: Path) -> None:
    shutil.rmtree(cards / "schema")

    assert main(["--cards-dir", str(cards), "--write-schemas"]) == 0
    assert (cards / "schema" / "rule.schema.json").is_file()
