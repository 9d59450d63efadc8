"""is_free_text: the inlined hot-path loop reads codings exactly as fhirjson.codings does."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.fhirjson import as_str, codings
from cds_service.clinical.freetext import is_free_text
from cds_service.clinical.lexicon import RXNORM, SNOMED, code_system_kind

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
SHAPES: list[Any] = [
    {"coding": [{"system": RX, "code": "2598"}]},
    {"coding": {"system": RX, "code": "2598"}},  # a lone object, as the Sandbox sends
    {"coding": [{"system": RX, "code": "  "}]},
    {"coding": [{"system": RX, "code": 2598}]},
    {"coding": [{"system": None, "code": "2598"}]},
    {"coding": ["not a coding", {"system": "urn:oid:2.16.840.1.113883.6.96", "code": "1"}]},
    {"coding": [{"system": "http://example.org/local", "code": "X1"}]},
    {"coding": "nonsense"},
    {"text": "Klonipin 1 mg"},
    "not a concept",
    {},
]


def _reference_reading(concepts: list[Any]) -> bool:
    for concept in concepts:
        for coding in codings(concept):
            system, code = as_str(coding.get("system")), as_str(coding.get("code"))
            if code.strip() and code_system_kind(system) in {RXNORM, SNOMED}:
                return False
    return True


@pytest.mark.parametrize("shape", SHAPES)
def test_is_free_text_any_concept_shape_agrees_with_codings_reading(shape: Any) -> None:
    assert is_free_text([shape]) is _reference_reading([shape])


def test_is_free_text_coded_after_free_concept_is_not_free_text() -> None:
    assert is_free_text([{"text": "x"}, {"coding": {"system": RX, "code": "2598"}}]) is False
    assert is_free_text([{"text": "x"}, {"coding": [{"system": RX, "code": ""}]}]) is True
