"""Skin, eye and ear products raise no card; absorbed forms (patches, rectal gel) still do."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.medications import is_local_product, normalise
from cds_service.clinical.types import Origin, SourcedResource
from tests.pipeline import lexicon

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _ingredients(resource: dict[str, Any]) -> set[str]:
    sourced = SourcedResource(resource, Origin.PREFETCH, "medicationStatements")
    return {name for fact in normalise([sourced], lexicon(), {}) for name in fact.ingredients}


def _statement(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": "ms-local",
        "status": "active",
        "medicationCodeableConcept": {"text": text},
        **extra,
    }


@pytest.mark.parametrize(
    "text",
    [
        "Ethanol 0.62 ML/ML Topical Gel (hand sanitiser)",
        "Ethanol 0.7 ML/ML Medicated Pad (prep pad)",
        "diphenhydramine hydrochloride 20 MG/ML Topical Cream",
        "Ketoconazole 20 MG/ML Medicated Shampoo",
        "cocaine 40 MG/ML Ophthalmic Solution",
    ],
)
def test_product_applied_to_skin_eye_or_ear_is_not_a_medication_fact(text: str) -> None:
    assert _ingredients(_statement(text)) == set()


@pytest.mark.parametrize(
    ("text", "ingredient"),
    [
        ("fentanyl 25 MCG/HR Transdermal System", "fentanyl"),
        ("Diazepam 10 MG Rectal Gel", "diazepam"),
        ("Selegiline 6 MG/24HR Transdermal System [Emsam]", "selegiline"),
        ("Midazolam 5 MG/ML Nasal Spray", "midazolam"),
    ],
)
def test_absorbed_forms_still_count(text: str, ingredient: str) -> None:
    assert ingredient in _ingredients(_statement(text))


def test_topical_route_on_the_dosage_makes_the_record_local() -> None:
    route = {"coding": [{"system": "http://snomed.info/sct", "code": "6064005"}]}
    record = _statement("ketoconazole 20 MG/ML", dosage=[{"route": route}])
    assert _ingredients(record) == set()
    assert "ketoconazole" in _ingredients(_statement("ketoconazole 200 MG Oral Tablet"))


def test_local_form_words_match_whole_words_only() -> None:
    assert is_local_product("Lidocaine 4% Topical Cream")
    assert not is_local_product("Fentanyl 12 MCG/HR Transdermal System")
    assert not is_local_product("Clonazepam 0.5 MG Oral Tablet")
