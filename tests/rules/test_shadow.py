"""Shadow rules in the knowledge base: loaded with their cases, compiled apart, evaluated separately."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cds_service.clinical import medications as meds
from cds_service.errors import RuleSetInvalid
from cds_service.rules.engine import evaluate, evaluate_shadow
from cds_service.rules.knowledge import compile_knowledge_base
from cds_service.rules.loader import load_knowledge_base
from cds_service.rules.overrides import RuleOverride
from tests.payloads import CLONAZEPAM
from tests.pipeline import ketamine_order, sourced
from tests.rules.kb_files import copy_cards, edit_yaml, set_status
from tests.rules.test_rule_cases import check_case

LAMOTRIGINE = {
    "resourceType": "MedicationStatement",
    "id": "ms-ltg",
    "status": "active",
    "medicationCodeableConcept": {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "28439"}]
    },
    "effectivePeriod": {"start": "2026-06-01"},
}
NOW = datetime(2026, 11, 27, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def shadow_cards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cards = copy_cards(tmp_path_factory.mktemp("shadow"))
    set_status(cards, "LTG", "shadow")
    return cards


def test_shadow_rule_is_compiled_apart_from_the_active_ones(shadow_cards: Path) -> None:
    kb = compile_knowledge_base(load_knowledge_base(shadow_cards))
    assert [rule.id for rule in kb.shadow_rules] == ["LTG"]
    assert "LTG" not in {rule.id for rule in kb.interaction_rules}
    assert kb.members("LTG")  # its members are indexed (and in the lexicon) to be evaluated


def test_shadow_rule_fires_only_in_the_shadow_evaluation(shadow_cards: Path) -> None:
    kb = compile_knowledge_base(load_knowledge_base(shadow_cards))
    records, medications = sourced([LAMOTRIGINE, CLONAZEPAM])
    facts = meds.normalise(records, kb.lexicon, medications)
    order = ketamine_order()
    assert order is not None
    active = evaluate(kb, facts, order, hook="order-sign", now=NOW)
    shadow = evaluate_shadow(kb, facts, order, hook="order-sign", now=NOW)
    assert [f.rule.id for f in active.findings] == ["BZD"]
    assert [f.rule.id for f in shadow.findings] == ["LTG"]
    assert shadow.findings[0].matches[0].member.name == "lamotrigine"


def test_shadow_rule_disabled_by_the_site_is_not_evaluated(shadow_cards: Path) -> None:
    overrides = {"LTG": RuleOverride(enabled=False)}
    kb = compile_knowledge_base(load_knowledge_base(shadow_cards), overrides)
    assert kb.shadow_rules == ()


def test_shadow_rule_without_cases_is_refused_like_an_active_one(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    set_status(cards, "LTG", "shadow")
    (cards / "rules" / "LTG.cases.yaml").unlink()
    with pytest.raises(RuleSetInvalid, match="shadow rule LTG needs at least one 'fires' case"):
        load_knowledge_base(cards)


def test_shadow_status_must_match_topics_yaml(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit_yaml(cards / "rules" / "LTG.yaml", {"status": "shadow"})
    with pytest.raises(RuleSetInvalid, match=r"'shadow', but .* lists LTG as 'active'"):
        load_knowledge_base(cards)


def test_shadow_rule_cases_run_as_if_it_were_active(shadow_cards: Path) -> None:
    kb = load_knowledge_base(shadow_cards)
    cases = kb.cases["LTG"].cases
    fires = next(case for case in cases if case.expect.outcome == "fires")
    silent = next(case for case in cases if case.expect.outcome == "silent")
    check_case("LTG", fires, kb)
    check_case("LTG", silent, kb)
