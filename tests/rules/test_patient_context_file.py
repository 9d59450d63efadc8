"""``cards/patient-context.yaml``: validated by kb check against the rules it names."""

from __future__ import annotations

from pathlib import Path

from cds_service.rules.loader import check_knowledge_base
from tests.yaml_io import dump_yaml, load_yaml


def _edit(cards: Path, change: dict[str, object]) -> None:
    path = cards / "patient-context.yaml"
    data = load_yaml(path)
    data.update(change)
    path.write_text(dump_yaml(data), encoding="utf-8")


def _problems(cards: Path) -> list[str]:
    kb, problems = check_knowledge_base(cards)
    assert kb is None
    return [str(problem) for problem in problems]


def test_bundled_patient_context_loads_with_its_modifiers(cards: Path) -> None:
    kb, problems = check_knowledge_base(cards)
    assert problems == ()
    assert kb is not None
    assert kb.context is not None
    assert {m.id for m in kb.context.modifiers} >= {"AED-EPILEPSY-INDICATION", "OPANTAG-OUD"}


def test_without_the_file_nothing_is_read(cards: Path) -> None:
    (cards / "patient-context.yaml").unlink()
    kb, problems = check_knowledge_base(cards)
    assert problems == ()
    assert kb is not None
    assert kb.context is None


def test_modifier_naming_an_unknown_topic_or_member_is_a_problem(cards: Path) -> None:
    data = load_yaml(cards / "patient-context.yaml")
    first = data["modifiers"][0]
    broken = [{**first, "topics": ["NOPE"]}, {**first, "topics": ["LTG"], "members": ["aspirin"]}]
    _edit(cards, {"modifiers": broken})
    assert _problems(cards) == [
        "cards/patient-context.yaml: modifiers[0].topics: 'NOPE' is not a rule",
        "cards/patient-context.yaml: modifiers[1].members: not members of LTG: ['aspirin']",
    ]


def test_alcohol_ingredient_and_disorder_ingredient_must_be_members(cards: Path) -> None:
    data = load_yaml(cards / "patient-context.yaml")
    data["alcohol"]["ingredient"] = "grog"
    data["disorders"] = [{"condition": "epilepsy", "ingredient": "moonshine"}]
    _edit(cards, data)
    assert _problems(cards) == [
        "cards/patient-context.yaml: alcohol.ingredient: not a member of any rule",
        "cards/patient-context.yaml: disorders[0].ingredient: 'moonshine' is not a member",
    ]


def test_a_modifier_naming_an_undefined_condition_set_stops_start_up(cards: Path) -> None:
    data = load_yaml(cards / "patient-context.yaml")
    data["modifiers"][0]["condition"] = "gout"
    _edit(cards, data)
    problems = _problems(cards)
    assert len(problems) == 1
    assert "condition set 'gout' is not defined" in problems[0]
