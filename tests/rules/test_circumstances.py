"""The patient's conditions applied to the class cards (rules.circumstances) and their failures."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cds_service.rules import engine
from cds_service.rules.schema import Modifier
from tests.pipeline import run

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LAMOTRIGINE: dict[str, Any] = {
    "resourceType": "MedicationStatement",
    "id": "ltg",
    "status": "active",
    "medicationCodeableConcept": {"text": "lamotrigine 100 mg"},
    "reasonCode": [{"text": "Epilepsy"}],
}
OUD = {
    "resourceType": "Condition",
    "id": "oud",
    "code": {"coding": [{"system": ICD, "code": "F11.20"}]},
}


def test_a_failing_modifier_step_is_reported_and_the_cards_go_out_unmodified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "apply_modifiers", broken)
    evaluation, _ = run([LAMOTRIGINE])
    assert evaluation is not None
    assert evaluation.failures == ("CONDITIONS: RuntimeError",)
    (finding,) = evaluation.findings
    assert finding.circumstances == ()
    assert finding.hold is not None


def test_a_member_limited_modifier_leaves_the_other_members_alone() -> None:
    samidorphan = {
        "resourceType": "MedicationStatement",
        "id": "sam",
        "status": "active",
        "medicationCodeableConcept": {"text": "samidorphan"},
    }
    evaluation, cards = run([samidorphan], conditions=[OUD])
    assert evaluation is not None
    (finding,) = evaluation.findings
    assert finding.circumstances == ()
    assert "overdose" not in cards[0].summary.lower()


def test_an_indication_on_the_record_needs_no_condition_list() -> None:
    evaluation, _ = run([LAMOTRIGINE])
    assert evaluation is not None
    assert [c.condition for c in evaluation.findings[0].circumstances] == ["epilepsy"]


def test_modifier_topics_must_be_topic_codes() -> None:
    with pytest.raises(ValidationError, match="is not a topic code"):
        Modifier.model_validate(
            {
                "id": "X-ONE",
                "condition": "epilepsy",
                "via": ["indication"],
                "topics": ["ltg"],
                "note": "a note long enough",
                "evidence": {
                    "grade": "D",
                    "summary": "Grade D: a summary.",
                    "references": [{"citation": "A source", "url": "https://example.org/a"}],
                },
            }
        )
