"""Every case beside every rule (cards/rules/*.cases.yaml) through the real pipeline.

``fires``: exactly one card of the rule's topic, with the expected indicator and text.
``silent``: no card of that topic. ``todo``: a known gap that should fire but does not yet; marked
xfail(strict=True) so that fixing the gap turns the run red until the case becomes ``fires``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_service.rules.overrides import RuleOverride
from cds_service.rules.schema import Case, CaseFile
from tests.core.card_checks import assert_card_follows_spec
from tests.core.pipeline import CARDS_DIR, cards_of, run


def _case_files() -> list[CaseFile]:
    paths = sorted((CARDS_DIR / "rules").glob("*.cases.yaml"))
    return [CaseFile.model_validate(yaml.safe_load(Path(p).read_text("utf-8"))) for p in paths]


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
    given, expect = case.given, case.expect
    overrides = {topic: RuleOverride.model_validate(given.overrides)} if given.overrides else None
    evaluation, cards = run(
        given.medications, order=given.order, now=given.now, overrides=overrides
    )
    assert evaluation is None or evaluation.failures == ()
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
