"""Substance use read from medication texts, social-history Observations and use disorders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cds_service.clinical.conditions import read_context
from cds_service.clinical.substances import drinks_per_day, substance_facts
from cds_service.clinical.types import Origin, SourcedResource
from tests.pipeline import compiled

NOW = datetime(2026, 11, 26, 20, tzinfo=UTC)
ALCOHOL = compiled().substances.alcohol


def _sourced(resource: dict[str, Any], key: str = "medicationStatements") -> SourcedResource:
    return SourcedResource(resource, Origin.PREFETCH, key)


def _facts(
    records: tuple[dict[str, Any], ...] = (),
    observations: tuple[dict[str, Any], ...] = (),
    conditions: tuple[dict[str, Any], ...] = (),
) -> list[Any]:
    kb = compiled()
    patient = read_context(conditions, [], observations, kb.conditions)
    found = substance_facts(
        [_sourced(r) for r in records],
        (),
        [_sourced(o, "socialHistory") for o in observations],
        patient,
        kb.substances,
        kb.lexicon,
        NOW,
    )
    return list(found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Alcohol - 4 to 6 beers daily", 6.0),
        ("2-3 glasses of wine per day", 3.0),
        ("14 drinks a week", 2.0),
        ("beer 3/day", 3.0),
        ("wine on weekends", None),
        ("since 2010, daily", None),
    ],
)
def test_drinks_per_day_reads_ranges_and_periods(text: str, expected: float | None) -> None:
    assert drinks_per_day(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Benzyl alcohol 5% lotion",
        "Isopropyl alcohol 70% solution",
        "Cetearyl alcohol cream base",
        "Alcohol prep pads",
        "alcohol swabs",
        "Biotene alcohol-free mouthwash",
        "Polyvinyl alcohol eye drops",
        "Alcohol: none",
        "denies alcohol",
        "non-alcoholic beer",
        "Metformin 500 mg",
    ],
)
def test_alcohol_reads_when_product_negated_or_unrelated_is_none(text: str) -> None:
    assert ALCOHOL.reads(text) is None


def test_alcohol_reads_heavy_from_a_number_or_a_word() -> None:
    heavy = ALCOHOL.reads("Alcohol - 4 to 6 beers daily")
    light = ALCOHOL.reads("a glass of wine a week")
    binge = ALCOHOL.reads("binge drinking vodka at weekends")
    assert heavy is not None
    assert light is not None
    assert binge is not None
    assert (heavy.heavy, heavy.per_day) == (True, 6)
    assert not light.heavy
    assert binge.heavy


def test_substance_facts_when_alcohol_in_the_list_is_an_ethanol_fact_with_its_dose() -> None:
    record = {
        "resourceType": "MedicationStatement",
        "id": "e1",
        "status": "active",
        "medicationCodeableConcept": {"text": "ETOH"},
        "dosage": [{"text": "5 beers per day"}],
    }
    (fact,) = _facts((record,))
    assert fact.reference == "MedicationStatement/e1"
    assert fact.ingredients == frozenset({"ethanol"})
    assert fact.heavy_use
    assert fact.dose_text == "about 5 drinks a day"


def test_substance_facts_skip_a_record_the_normaliser_already_read() -> None:
    record = {
        "resourceType": "MedicationStatement",
        "id": "e2",
        "medicationCodeableConcept": {"text": "beer"},
    }
    kb = compiled()
    first = substance_facts(
        [_sourced(record)],
        (),
        [],
        read_context((), [], (), kb.conditions),
        kb.substances,
        kb.lexicon,
        NOW,
    )
    again = substance_facts(
        [_sourced(record)],
        first,
        [],
        read_context((), [], (), kb.conditions),
        kb.substances,
        kb.lexicon,
        NOW,
    )
    assert len(first) == 1
    assert again == ()


def _observation(code: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o-{code}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": "Social"}]},
        "effectiveDateTime": "2026-10-01",
        **value,
    }


@pytest.mark.parametrize(
    ("observation", "heavy"),
    [
        (_observation("74013-4", valueQuantity={"value": 5}), True),
        (_observation("74013-4", valueQuantity={"value": 1}), False),
        (_observation("75626-2", valueInteger=9), True),
        (_observation("75626-2", valueQuantity={"value": 4}), False),
        (_observation("11331-6", valueCodeableConcept={"coding": [{"code": "86933000"}]}), True),
        (_observation("11331-6", valueCodeableConcept={"coding": [{"code": "219006"}]}), False),
        (_observation("11331-6", valueString="2 beers a day"), False),
    ],
)
def test_social_history_alcohol_observations_read_as_drinking(
    observation: dict[str, Any], heavy: bool
) -> None:
    (fact,) = _facts(observations=(observation,))
    assert fact.ingredients == frozenset({"ethanol"})
    assert fact.resource_type == "Observation"
    assert fact.heavy_use is heavy


@pytest.mark.parametrize(
    "observation",
    [
        _observation("74013-4", valueQuantity={"value": 0}),
        _observation("75626-2", valueInteger=2),
        _observation("11331-6", valueString="never"),
        _observation("11331-6", valueCodeableConcept={"coding": [{"code": "105542008"}]}),
        _observation("74013-4", valueQuantity={"value": 6}, status="entered-in-error"),
        _observation("74013-4", valueQuantity={"value": 6}, effectiveDateTime="2020-01-01"),
        _observation("72166-2", valueCodeableConcept={"text": "Current every day smoker"}),
        _observation("11343-1", valueString="denies drug use"),
    ],
)
def test_social_history_without_use_or_old_or_unknown_gives_no_fact(
    observation: dict[str, Any],
) -> None:
    assert _facts(observations=(observation,)) == []


def test_social_history_drug_use_text_is_read_with_the_lexicon() -> None:
    facts = _facts(observations=(_observation("11343-1", valueString="cocaine and cannabis"),))
    assert sorted(n for f in facts for n in f.ingredients) == ["cannabis", "cocaine"]


def test_use_disorders_read_as_use_and_alcohol_use_disorder_as_heavy() -> None:
    def condition(code: str) -> dict[str, Any]:
        system = "http://hl7.org/fhir/sid/icd-10-cm"
        return {
            "resourceType": "Condition",
            "id": code,
            "code": {"coding": [{"system": system, "code": code}]},
        }

    facts = _facts(conditions=(condition("F10.20"), condition("F14.20"), condition("F11.20")))
    read = {next(iter(f.ingredients)): f.heavy_use for f in facts}
    assert read == {"ethanol": True, "cocaine": False}


def test_alcohol_reads_are_memoised_and_the_memo_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cds_service.clinical import substances

    vocabulary = substances.AlcoholVocabulary(words=frozenset({"beer"}))
    monkeypatch.setattr(substances, "TEXT_MEMO_SIZE", 2)
    first = vocabulary.reads("beer 3 a day")
    assert vocabulary.reads("beer 3 a day") is first
    vocabulary.reads("beer 1 a day")
    vocabulary.reads("beer 2 a day")  # full: cleared, then this one kept
    assert len(vocabulary._memo) == 1
