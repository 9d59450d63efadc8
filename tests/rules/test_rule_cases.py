"""Every case beside every rule (cards/rules/*.cases.yaml) through the real pipeline.

``fires``: exactly one card of the rule's topic, with the expected indicator and text.
``silent``: no card of that topic. ``todo``: a known gap that should fire but does not yet; marked
xfail(strict=True) so that fixing the gap turns the run red until the case becomes ``fires``.
Every case must run on an order recognised as ketamine (its own or the default one), or a silent
case would pass without the rule being evaluated.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.overrides import RuleOverride
from cds_service.rules.schema import Case, CaseFile
from tests.card_checks import assert_card_follows_spec
from tests.pipeline import CARDS_DIR, as_active, cards_of, ketamine_order, knowledge_base, run
from tests.yaml_io import load_yaml


@cache
def _case_files() -> tuple[CaseFile, ...]:
    # Read once per process: collection parametrises from it and two modules walk it.
    paths = sorted((CARDS_DIR / "rules").glob("*.cases.yaml"))
    return tuple(CaseFile.model_validate(load_yaml(p)) for p in paths)


def _params() -> list[Any]:
    params = []
    for case_file in _case_files():
        for case in case_file.cases:
            marks = []
            if case.expect.outcome == "todo":
                marks.append(
                    pytest.mark.xfail(reason="known gap", strict=True, raises=AssertionError)
                )
            params.append(
                pytest.param(case_file.rule, case, id=f"{case_file.rule}::{case.name}", marks=marks)
            )
    return params


@pytest.mark.parametrize(("topic", "case"), _params())
def test_rule_case(topic: str, case: Case) -> None:
    check_case(topic, case)


def check_case(topic: str, case: Case, kb: KnowledgeBase | None = None) -> None:
    """Run one case; a broken precondition fails even a todo case (its xfail expects AssertionError).

    A shadow rule's cases run as if it were active: they say what it would show.
    """
    given, expect = case.given, case.expect
    source = kb or knowledge_base()
    if source.rule(topic).status == "shadow":
        kb = as_active(source, topic)
    order = ketamine_order(given.order)
    if order is None:
        # Otherwise a silent case would pass without the rule ever being evaluated.
        pytest.fail(f"{topic}::{case.name}: the order is not recognised as a ketamine order")
    overrides = {topic: RuleOverride.model_validate(given.overrides)} if given.overrides else None
    evaluation, cards = run(
        given.medications,
        order=given.order,
        now=given.now,
        overrides=overrides,
        conditions=given.conditions,
        observations=given.observations,
        source=kb,
    )
    if evaluation is None or evaluation.failures != ():
        pytest.fail(f"{topic}::{case.name}: evaluation failed: {evaluation}")
    for card in cards:
        assert_card_follows_spec(card)  # updates echo a repaired draft: always valid R4B
    mine = cards_of(cards, topic)
    if expect.outcome == "silent":
        assert mine == [], [card.summary for card in mine]
        return
    assert len(mine) == 1, f"expected one {topic} card, got {[c.summary for c in cards]}"
    (card,) = mine
    if expect.indicator is not None:
        assert card.indicator == expect.indicator
    for text in expect.summary_contains:
        assert text.lower() in card.summary.lower()
    for text in expect.detail_contains:
        assert text.lower() in (card.detail or "").lower()
    for text in expect.summary_excludes:
        assert text.lower() not in card.summary.lower(), card.summary
    for text in expect.detail_excludes:
        assert text.lower() not in (card.detail or "").lower(), card.detail
    labels = [suggestion.label.lower() for suggestion in card.suggestions or []]
    for text in expect.suggestions_exclude:
        assert not [label for label in labels if text.lower() in label], labels


@pytest.mark.parametrize("outcome", ["silent", "todo"])
def test_rule_case_when_order_is_not_ketamine_fails_instead_of_passing(outcome: str) -> None:
    sertraline = {
        "resourceType": "MedicationRequest",
        "id": "not-ketamine",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"text": "sertraline 50 mg tablet"},
    }
    case = Case.model_validate(
        {
            "name": "silent_on_any_order",
            "given": {"order": sertraline},
            "expect": {"outcome": outcome},
        }
    )

    with pytest.raises(pytest.fail.Exception, match="not recognised as a ketamine order"):
        check_case("BZD", case)
