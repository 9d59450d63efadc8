"""Card detail length, measured over every case beside every rule: concise by default, full on request.

A prescriber reads the default detail in about ten seconds: at most 700 characters of markdown for a
card about one drug. References are only in ``links``, each once; the detail links nowhere (a link in
it navigates the host page away and loses the order).
"""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.cdshooks.models import Card
from cds_service.render.profiles import build_profiles
from cds_service.rules.findings import Finding
from cds_service.rules.overrides import RuleOverride
from tests.pipeline import cards_of, run
from tests.rules.test_rule_cases import _case_files

CONCISE_ONE_DRUG_MAX = 700
BRIEF_MAX = 450
FULL = build_profiles(detail="full")["spec"]
BRIEF = build_profiles()["oracle"]


def _firing_cases() -> list[Any]:
    return [
        pytest.param(case_file.rule, case, id=f"{case_file.rule}::{case.name}")
        for case_file in _case_files()
        for case in case_file.cases
        if case.expect.outcome == "fires"
    ]


def _card_and_finding(topic: str, case: Any, **kwargs: Any) -> tuple[Card, Finding]:
    given = case.given
    overrides = {topic: RuleOverride.model_validate(given.overrides)} if given.overrides else None
    evaluation, cards = run(
        given.medications,
        order=given.order,
        now=given.now,
        overrides=overrides,
        conditions=given.conditions,
        observations=given.observations,
        **kwargs,
    )
    assert evaluation is not None
    finding = next(f for f in evaluation.findings if f.rule.id == topic)
    return cards_of(cards, topic)[0], finding


def _drugs(finding: Finding) -> int:
    return len({match.fact.reference for match in finding.matches})


@pytest.mark.parametrize(("topic", "case"), _firing_cases())
def test_default_detail_of_a_one_drug_card_is_at_most_700_characters(topic: str, case: Any) -> None:
    card, finding = _card_and_finding(topic, case)
    detail = card.detail or ""
    extra = len(finding.alerts) + len(finding.circumstances)
    if _drugs(finding) == 1 and not extra:
        assert len(detail) <= CONCISE_ONE_DRUG_MAX, detail
    else:  # each further record, combination or condition adds a line, never the whole long form
        assert len(detail) <= CONCISE_ONE_DRUG_MAX + 150 * (_drugs(finding) + extra)


@pytest.mark.parametrize(("topic", "case"), _firing_cases())
def test_every_detail_form_names_the_drug_and_links_nowhere(topic: str, case: Any) -> None:
    for profile in (None, FULL, BRIEF):
        card, finding = _card_and_finding(topic, case, profile=profile)
        detail = card.detail or ""
        assert "](" not in detail
        assert "http" not in detail
        assert finding.matches[0].fact.display in detail


@pytest.mark.parametrize(("topic", "case"), _firing_cases())
def test_references_appear_once_each_and_only_as_links(topic: str, case: Any) -> None:
    card, _ = _card_and_finding(topic, case, profile=FULL)
    urls = [link.url for link in card.links or []]
    assert urls
    assert len(urls) == len(set(urls))
    assert all(not link.label.endswith("…") for link in card.links or [])


@pytest.mark.parametrize(("topic", "case"), _firing_cases())
def test_full_detail_keeps_the_long_form(topic: str, case: Any) -> None:
    concise, _ = _card_and_finding(topic, case)
    full, finding = _card_and_finding(topic, case, profile=FULL)
    assert "**Recommendation**" in (full.detail or "")
    assert finding.rule.recommendation.strip() in (full.detail or "")
    assert len(full.detail or "") > len(concise.detail or "")


@pytest.mark.parametrize(("topic", "case"), _firing_cases())
def test_brief_detail_fits_a_narrow_sidebar(topic: str, case: Any) -> None:
    card, _ = _card_and_finding(topic, case, profile=BRIEF)
    assert len(card.detail or "") <= BRIEF_MAX


def test_evidence_grade_is_said_once_in_the_full_form() -> None:
    (case,) = [c for f in _case_files() if f.rule == "LTG" for c in f.cases][:1]
    card, _ = _card_and_finding("LTG", case, profile=FULL)
    assert "Evidence (grade B): Grade B" not in (card.detail or "")
    assert "**Evidence**: Grade B:" in (card.detail or "")
