"""One card for a drug in two classes; one card per class for distinct drugs."""

from __future__ import annotations

from typing import Any

from cds_service.render.fold import fold_findings
from tests.card_checks import assert_card_follows_spec
from tests.pipeline import run

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _coded(code: str, display: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": code, "display": display}]
        },
        "effectivePeriod": {"start": "2026-06-01"},
        **extra,
    }


CARBAMAZEPINE = _coded("2002", "carbamazepine")
PHENOBARBITAL = _coded("8134", "phenobarbital")
RIFAMPIN = _coded("9384", "rifampin")


def _topics(resources: list[dict[str, Any]], **options: Any) -> list[str]:
    _, cards = run(resources, **options)
    for card in cards:
        assert_card_follows_spec(card)
    return [card.source.topic.code for card in cards if card.source.topic]


def test_cards_when_one_drug_in_two_classes_give_one_card() -> None:
    assert _topics([CARBAMAZEPINE]) == ["AED"]


def test_cards_when_a_second_drug_is_in_one_class_only_keep_its_card() -> None:
    assert sorted(_topics([CARBAMAZEPINE, RIFAMPIN])) == ["AED", "CYPIND"]


def test_folded_card_takes_the_higher_class_and_both_evidences() -> None:
    _, cards = run([PHENOBARBITAL])
    (card,) = cards
    assert card.source.topic is not None
    assert card.source.topic.code == "CNSDEP"  # the warning class leads; the inducer joins it
    assert "**Also: CYP3A4/CYP2B6 inducers**" in (card.detail or "")
    labels = [link.label for link in card.links or ()]
    assert any("Peltoniemi" in label for label in labels)  # the inducer's first reference kept
    assert len(labels) == len(set(labels))


def test_fold_findings_keeps_the_findings_order_and_a_hold_class_its_own_card() -> None:
    lamotrigine = _coded("28439", "lamotrigine")
    evaluation, _ = run([lamotrigine, CARBAMAZEPINE])
    assert evaluation is not None
    folded = fold_findings(evaluation.findings)
    assert [(f.primary.rule.id, [a.rule.id for a in f.also]) for f in folded] == [
        ("AED", ["CYPIND"]),
        ("LTG", []),
    ]
