"""Repairing a client's draft before it is echoed in an update: the result always validates as R4B."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from cds_service.render.drafts import is_valid, repaired

SANDBOX_DRAFT: dict[str, Any] = {
    "resourceType": "MedicationRequest",
    "id": "request-123",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/smart-1288992"},
    "authoredOn": "2026-11-27",
    "dosageInstruction": [
        {
            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": 1, "code": "{pill}"}}],
        }
    ],
    "category": {"coding": [{"code": "community"}]},
    "reasonCode": {"text": "Major depressive disorder"},
    "medicationCodeableConcept": {"text": "ketamine"},
}


def test_repaired_sandbox_draft_wraps_lone_objects_into_lists_and_validates() -> None:
    fixed = repaired(SANDBOX_DRAFT)
    assert fixed is not None
    MedicationRequest.model_validate(fixed)
    assert fixed["category"] == [SANDBOX_DRAFT["category"]]
    assert fixed["reasonCode"] == [SANDBOX_DRAFT["reasonCode"]]
    assert fixed["dosageInstruction"] == SANDBOX_DRAFT["dosageInstruction"]


def test_repaired_never_changes_the_clients_draft() -> None:
    before = repr(SANDBOX_DRAFT)
    repaired(SANDBOX_DRAFT)
    assert repr(SANDBOX_DRAFT) == before


def test_repaired_valid_draft_is_returned_as_is() -> None:
    fixed = repaired(SANDBOX_DRAFT)
    assert fixed is not None
    assert repaired(fixed) is fixed


def test_repaired_drops_a_nested_invalid_field_at_its_deepest_point() -> None:
    draft = {**SANDBOX_DRAFT, "dosageInstruction": [{"text": "IV", "sequence": "first"}]}
    fixed = repaired(draft)
    assert fixed is not None
    assert fixed["dosageInstruction"] == [{"text": "IV"}]
    assert is_valid(fixed)


def test_repaired_drops_unknown_top_level_fields() -> None:
    fixed = repaired({**SANDBOX_DRAFT, "x-vendor": {"a": 1}})
    assert fixed is not None
    assert "x-vendor" not in fixed


@pytest.mark.parametrize("field", ["intent", "status", "subject"])
def test_repaired_draft_missing_a_required_field_cannot_be_repaired(field: str) -> None:
    draft = {key: value for key, value in SANDBOX_DRAFT.items() if key != field}
    assert repaired(draft) is None


def test_is_valid_unknown_resource_type_is_not_checked() -> None:
    assert is_valid({"resourceType": "NutritionOrder", "anything": True})


def test_repaired_drops_a_list_item_that_cannot_be_what_the_list_holds() -> None:
    fixed = repaired({**SANDBOX_DRAFT, "note": [{"text": "keep"}, "just a string"]})
    assert fixed is not None
    assert fixed["note"] == [{"text": "keep"}]
