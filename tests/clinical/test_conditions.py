"""The patient's Conditions, each record's indications and blood-pressure readings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cds_service.clinical.conditions import read_context
from tests.pipeline import compiled

NOW = datetime(2026, 11, 26, 20, tzinfo=UTC)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
VOCABULARY = compiled().conditions


def condition(rid: str, system: str, code: str, **extra: Any) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    return {"resourceType": "Condition", "id": rid, "code": {"coding": [coding]}, **extra}


def reading(systolic: float, diastolic: float, when: str, *, panel: bool = True) -> dict[str, Any]:
    parts = [("8480-6", systolic), ("8462-4", diastolic)]
    components = [
        {"code": {"coding": [{"code": code}]}, "valueQuantity": {"value": value}}
        for code, value in parts
    ]
    if panel:
        return {
            "resourceType": "Observation",
            "status": "final",
            "component": components,
            "effectiveDateTime": when,
        }
    return {
        "resourceType": "Observation",
        "status": "final",
        **components[0],
        "effectiveDateTime": when,
    }


@pytest.mark.parametrize(
    ("resource", "present"),
    [
        (condition("a", ICD, "G40.909"), True),
        (condition("b", ICD, "G40909"), True),
        (condition("c", SCT, "84757009"), True),
        (condition("d", "urn:oid:2.16.840.1.113883.6.90", "G40.1"), True),
        (condition("e", ICD, "F10.20"), False),
        (condition("i", ICD, "G41.0"), True),  # status epilepticus (ICD-10, not ICD-10-CM)
        ({"resourceType": "Condition", "id": "f", "code": {"text": "Seizure disorder"}}, True),
        (condition("g", ICD, "G40.9", clinicalStatus={"coding": [{"code": "resolved"}]}), False),
        (condition("h", ICD, "G40.9", verificationStatus={"coding": [{"code": "refuted"}]}), False),
    ],
)
def test_has_when_condition_coded_uncoded_or_inactive(
    resource: dict[str, Any], present: bool
) -> None:
    patient = read_context([resource], [], [], VOCABULARY)
    assert (patient.has("epilepsy", NOW) is not None) is present


@pytest.mark.parametrize(
    ("text", "present"),
    [
        ("Psychogenic non-epileptic seizures", False),
        ("No history of seizures", False),
        ("Denies seizures", False),
        ("Epilepsy, no seizures since 2019", True),
        ("Generalized idiopathic epilepsy, not intractable, without status epilepticus", True),
        ("Febrile seizures in childhood", False),
        ("Complex febrile seizure disorder", False),
        ("Febrile seizures as a child, epilepsy since 2019", True),
        ("Seizures after a febrile illness", True),
        ("Non-febrile seizures", True),
        ("Nonfebrile seizure disorder", True),
        ("Afebrile seizures since 2021", True),
        # A phrase joined by and/or to another modifier may share its noun: doubt reads as epilepsy.
        ("Absence and febrile seizures", True),
        ("Generalized tonic-clonic and febrile seizures", True),
        ("Non-febrile and febrile seizures", True),
        ("Afebrile/febrile seizures", True),
        ("Seizures, febrile and afebrile", True),
        ("Febrile seizures and asthma", False),
        # An excluded phrase lies within one clause; the MeSH order is not excluded ("Seizures,
        # febrile" cannot be told apart from "Seizures, febrile illness"): doubt reads as epilepsy.
        ("Seizures, febrile", True),
        ("Breakthrough seizures, febrile illness", True),
        ("Recurrent seizures. Febrile on admission", True),
        ("Nonepileptic seizures", False),
        # A negation reaches to the end of its clause only; "non" prefixes a word, it negates nothing.
        ("No febrile seizures; epilepsy since 2019", True),
        ("Denies seizures. Epilepsy per neurology", True),
        ("Denies: seizures", False),
        ("No hx. of seizures", False),
        ("No h/o seizures", False),
        ("Focal non-motor seizures", True),
        ("Non-convulsive seizures", True),
        ("Non-intractable epilepsy", True),
        ("Non-convulsive status epilepticus", True),
    ],
)
def test_has_when_uncoded_words_are_negated_before_the_name_is_none(
    text: str, present: bool
) -> None:
    uncoded = {"resourceType": "Condition", "id": "w", "code": {"text": text}}
    patient = read_context([uncoded], [], [], VOCABULARY)
    assert (patient.has("epilepsy", NOW) is not None) is present


def test_a_coded_condition_outside_the_set_is_not_matched_by_its_words() -> None:
    coded = {
        "resourceType": "Condition",
        "id": "x",
        "code": {"coding": [{"system": SCT, "code": "1"}], "text": "epilepsy?"},
    }
    assert read_context([coded], [], [], VOCABULARY).has("epilepsy", NOW) is None


def test_remission_codes_are_left_out() -> None:
    remission = condition("r", ICD, "F10.21")
    active = condition("s", ICD, "F10.20")
    assert read_context([remission], [], [], VOCABULARY).has("alcohol-use-disorder", NOW) is None
    assert read_context([active], [], [], VOCABULARY).has("alcohol-use-disorder", NOW) is not None


@pytest.mark.parametrize(
    "reference",
    [
        "Condition/epi-1",
        "https://ehr.example.org/fhir/Condition/epi-1",
        "Condition/epi-1/_history/3",
    ],
)
def test_reason_reference_resolves_against_the_conditions(reference: str) -> None:
    record = {"resourceType": "MedicationStatement", "reasonReference": [{"reference": reference}]}
    patient = read_context(
        [condition("epi-1", ICD, "G40.909")], [("MedicationStatement/m1", record)], [], VOCABULARY
    )
    assert patient.indicated("MedicationStatement/m1", "epilepsy")


def test_reason_code_and_reference_display_name_the_indication() -> None:
    by_code = {"reasonCode": [{"text": "Epilepsy"}]}
    by_display = {"reasonReference": [{"display": "seizure disorder"}]}
    other = {"reasonCode": [{"text": "Bipolar II disorder"}]}
    pairs = [("A/1", by_code), ("A/2", by_display), ("A/3", other), ("A/4", {})]
    patient = read_context([], pairs, [], VOCABULARY)
    assert patient.indicated("A/1", "epilepsy")
    assert patient.indicated("A/2", "epilepsy")
    assert not patient.indicated("A/3", "epilepsy")
    assert "A/3" in patient.indications  # states an indication: the problem list does not decide
    assert "A/4" not in patient.indications


@pytest.mark.parametrize(
    ("observation", "uncontrolled"),
    [
        (reading(172, 96, "2026-11-20T10:00:00Z"), True),
        (reading(150, 104, "2026-11-20T10:00:00Z"), True),
        (reading(150, 95, "2026-11-20T10:00:00Z"), False),
        (reading(190, 120, "2026-09-01T10:00:00Z"), False),
        (reading(175, 0, "2026-11-20T10:00:00Z", panel=False), True),
        ({"resourceType": "Observation", "status": "entered-in-error"}, False),
    ],
)
def test_uncontrolled_hypertension_from_coded_hypertension_and_a_recent_high_reading(
    observation: dict[str, Any], uncontrolled: bool
) -> None:
    hypertension = condition("h", ICD, "I10")
    patient = read_context([hypertension], [], [observation], VOCABULARY)
    found = patient.has("uncontrolled-hypertension", NOW)
    assert (found is not None) is uncontrolled
    if found is not None:
        assert "160/100" in found.display


@pytest.mark.parametrize(
    ("dates", "uncontrolled"),
    [
        (("2026-11-01T10:00:00Z", "2026-11-25T10:00:00Z"), False),
        (("2026-11-25T10:00:00Z", "2026-11-01T10:00:00Z"), True),
    ],
)
def test_uncontrolled_hypertension_when_two_readings_the_latest_decides(
    dates: tuple[str, str], uncontrolled: bool
) -> None:
    high, normal = reading(172, 104, dates[0]), reading(128, 82, dates[1])
    patient = read_context([condition("h", ICD, "I10")], [], [high, normal], VOCABULARY)
    assert (patient.has("uncontrolled-hypertension", NOW) is not None) is uncontrolled


def test_uncontrolled_hypertension_needs_the_hypertension_code_for_a_reading() -> None:
    patient = read_context([], [], [reading(190, 120, "2026-11-20T10:00:00Z")], VOCABULARY)
    assert patient.has("uncontrolled-hypertension", NOW) is None


def test_hypertensive_crisis_code_is_uncontrolled_without_a_reading() -> None:
    patient = read_context([condition("u", ICD, "I16.1")], [], [], VOCABULARY)
    assert patient.has("uncontrolled-hypertension", NOW) is not None


def test_a_negation_in_one_clause_does_not_reach_a_condition_named_in_the_next() -> None:
    text = "No alcohol abuse; opioid use disorder, on buprenorphine"
    uncoded = {"resourceType": "Condition", "id": "c", "code": {"text": text}}
    patient = read_context([uncoded], [], [], VOCABULARY)
    assert patient.has("opioid-use-disorder", NOW) is not None
    assert patient.has("alcohol-use-disorder", NOW) is None


USE_DISORDERS = ("alcohol-use-disorder", "opioid-use-disorder", "cannabis-use-disorder")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        # Modifiers joined by and/or share the words after the last one.
        ("Alcohol and opioid use disorder", {"alcohol-use-disorder", "opioid-use-disorder"}),
        ("Opioid and alcohol dependence", {"alcohol-use-disorder", "opioid-use-disorder"}),
        ("Alcohol or cannabis use disorder", {"alcohol-use-disorder", "cannabis-use-disorder"}),
        ("Alcohol/cannabis abuse", {"alcohol-use-disorder", "cannabis-use-disorder"}),
        ("Alcohol and opioid and cannabis use disorder", set(USE_DISORDERS)),
        # Not across a clause, not with "nor", and a negation before the first reaches all of them.
        ("Alcohol; opioid use disorder", {"opioid-use-disorder"}),
        ("Neither alcohol nor opioid use disorder", set()),
        ("No alcohol and opioid use disorder", set()),
        ("Tobacco and opioid use disorder", {"opioid-use-disorder"}),
        ("Alcohol and tobacco use", set()),
    ],
)
def test_use_disorders_named_by_modifiers_that_share_their_noun(text: str, named: set[str]) -> None:
    uncoded = {"resourceType": "Condition", "id": "u", "code": {"text": text}}
    patient = read_context([uncoded], [], [], VOCABULARY)
    assert {s for s in USE_DISORDERS if patient.has(s, NOW) is not None} == named
