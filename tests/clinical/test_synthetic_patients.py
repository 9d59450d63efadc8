"""Synthea patients and HL7 R4 spec examples (../shared/reference/fhir-samples) through meds + engine.

Expected classes are those ``fhir-samples/SOURCES.md`` lists for each patient; every rendered card must
also pass the CDS Hooks card rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cds_service.cdshooks.models import Card
from tests.card_checks import assert_card_follows_spec
from tests.pipeline import run
from tests.reference_data import FHIR_SAMPLES

SAMPLES = FHIR_SAMPLES
SYNTHEA = SAMPLES / "synthea-smart-r4-2019"
HL7 = SAMPLES / "hl7-r4-spec-examples"
NOW = "2026-11-27T08:00:00+00:00"

pytestmark = pytest.mark.reference_data

PATIENTS = {
    # clonazepam; carbamazepine (AED and inducer: one card naming both, render.fold)
    "Alberto_Atencio": {"BZD", "AED"},
    "Garrett_Thompson": {"BZD"},
    "Delbert_Williamson": {"BZD"},  # diazepam coded at brand (SBD) level
    "Chet_Thompson": {"OPIOID"},  # APAP / oxycodone combination
    "Rachael_McDermott": set(),  # clonazepam stopped, outside the washout
    "Gerardo_Botello": {"STIM"},  # methylphenidate; epinephrine auto-injector
    # diazepam; donepezil / memantine; clopidogrel (a CYP2B6 inhibitor, not listed in SOURCES.md)
    "Adalberto_Hartmann": {"BZD", "NMDA", "CYPINH"},
    "Jordan_Cruickshank": set(),  # peri-operative set, all stopped years ago
    "Ned_Hintz": set(),
}

SPEC_EXAMPLES = {
    "medicationrequest0312": {"AED"},  # phenytoin, active: the inducer reason on the AED card
    "medicationrequest0315": {"BZD"},  # lorazepam injection in a contained Medication
    "medicationrequest0327": {"OPIOID"},  # fentanyl patch, SNOMED-coded
    "medicationstatementexample1": {
        "CNSDEP"
    },  # Tylenol PM: diphenhydramine via Medication.ingredient
    "medicationrequest0305": set(),  # alprazolam, completed in 2016: far outside the washout
    "medicationrequest0301": set(),  # oxycodone, completed
    "medicationrequest0308": set(),  # Vicodin, completed
    "medicationstatementexample5": set(),  # entered-in-error
    "medicationstatementexample3": set(),  # "Little Pink Pill": nothing we can name
}


def _synthea_records(prefix: str) -> list[dict[str, Any]]:
    (path,) = SYNTHEA.glob(f"{prefix}_*.json")
    bundle = json.loads(Path(path).read_text("utf-8"))
    resources = [entry.get("resource", {}) for entry in bundle.get("entry", [])]
    return [r for r in resources if r.get("resourceType") in {"MedicationRequest", "Medication"}]


def _topics(cards: list[Card]) -> set[str]:
    return {card.source.topic.code for card in cards if card.source.topic}


@pytest.mark.parametrize(("prefix", "expected"), sorted(PATIENTS.items()))
def test_synthea_patient_fires_listed_classes(prefix, expected):
    evaluation, cards = run(_synthea_records(prefix), now=NOW)
    assert evaluation is not None
    assert evaluation.failures == ()
    assert _topics(cards) == expected
    for card in cards:
        assert_card_follows_spec(card)


@pytest.mark.parametrize(("name", "expected"), sorted(SPEC_EXAMPLES.items()))
def test_hl7_spec_example_fires_expected_classes(name, expected):
    resource = json.loads((HL7 / f"{name}.json").read_text("utf-8"))
    _, cards = run([resource], now=NOW)
    assert _topics(cards) == expected
    for card in cards:
        assert_card_follows_spec(card)


def test_synthea_bzd_patient_card_names_drug_and_source():
    _, cards = run(_synthea_records("Garrett_Thompson"), now=NOW)
    (card,) = cards
    assert "clonazepam" in card.summary.lower()
    assert "active prescription" in (card.detail or "")
    assert "medicationRequests" not in (card.detail or "")  # no technical source keys on cards


def test_synthea_patients_without_ketamine_order_get_no_cards():
    not_ketamine = {
        "resourceType": "MedicationRequest",
        "id": "other",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"text": "sertraline 50 mg tablet"},
    }
    evaluation, cards = run(_synthea_records("Alberto_Atencio"), order=not_ketamine, now=NOW)
    assert (evaluation, cards) == (None, [])
