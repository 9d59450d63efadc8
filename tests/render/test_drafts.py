"""Repairing a client's draft before it is echoed in an update: the result always validates as R4B."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.medicationrequest import MedicationRequest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cds_service.render.drafts import _known_valid, _rest_is_valid, is_valid, repaired

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


VALID_DRAFT: dict[str, Any] = {
    "resourceType": "MedicationRequest",
    "id": "ket-1",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/p1"},
    "encounter": {"reference": "Encounter/e1"},
    "requester": {"reference": "Practitioner/d1"},
    "authoredOn": "2026-11-27T08:00:00-05:00",
    "medicationCodeableConcept": {"text": "ketamine"},
    "dosageInstruction": [{"timing": {"event": ["2026-11-28T09:00:00-05:00"]}}],
}
# Per-request values, valid and not: the memoised verdict must agree with R4B on every one.
VARYING: list[tuple[str, Any]] = [
    ("id", "ket-2"),
    ("id", "bad id!"),
    ("id", ""),
    ("id", "x" * 65),
    ("authoredOn", "2026-11-28"),
    ("authoredOn", "2026-13-01"),
    ("authoredOn", "2026-11-28T09:00:00"),
    ("authoredOn", "yesterday"),
    ("subject", {"reference": "Patient/p2"}),
    ("subject", {"reference": ""}),
    ("subject", {"reference": " "}),
    ("subject", {"reference": "\u2028"}),
    ("subject", {"reference": "Patient/p2\u2028"}),
    ("encounter", {"reference": "\n"}),
    ("requester", {"reference": "Practitioner/\x00"}),
    ("subject", {"reference": 5}),
    ("subject", {"display": "someone"}),
    ("subject", {"reference": "Patient/p2", "unknown": 1}),
    ("subject", {}),
    ("encounter", {"reference": "Encounter/e2", "type": "Encounter"}),
    ("encounter", {"reference": None}),
    ("requester", {"identifier": {"value": "d2"}}),
    ("requester", {"identifier": "d2"}),
    ("dosageInstruction", [{"text": "0.5 mg/kg", "timing": {"event": ["2026-12-01T09:00:00Z"]}}]),
    ("dosageInstruction", [{"timing": {"event": ["not a time"]}}]),
    ("dosageInstruction", [{"text": 5}]),
    ("dosageInstruction", {"text": "a lone object"}),
    ("dosageInstruction", []),
    ("dosageInstruction", [{"timing": {"event": ["2026-11-29T09:00:00-05:00", "2026-11-30"]}}]),
    ("dosageInstruction", [{"timing": {"event": ["2026-11-29T09:00:00"]}}]),
    ("dosageInstruction", [{"timing": {"event": [None]}}]),
    ("dosageInstruction", [{"timing": {"event": ["2026-11-29T09:00:00Z"], "code": "x"}}]),
]


def _r4b_valid(resource: dict[str, Any]) -> bool:
    try:
        MedicationRequest.model_validate(resource)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("field", "value"), VARYING)
def test_is_valid_memoised_verdict_per_request_field_agrees_with_r4b(
    field: str, value: Any
) -> None:
    assert is_valid(VALID_DRAFT)  # the memo now holds the verdict for the rest of this draft
    draft = {**VALID_DRAFT, field: value}
    assert is_valid(draft) is _r4b_valid(draft)


@settings(max_examples=300, deadline=None)
@given(reference=st.text(), field=st.sampled_from(["subject", "encounter", "requester"]))
@example(reference="\u2028", field="subject")
@example(reference="\t", field="encounter")
@example(reference="Patient/", field="subject")
@example(reference="not a reference", field="subject")
@example(reference="#contained", field="requester")
@example(reference="urn:uuid:0b5f7a3e-9d1c-4d8e-8f3a-1c2b3d4e5f60", field="subject")
@example(reference="https://ehr.example.org/fhir/Patient/p1", field="subject")
@example(reference="Practitioner/x", field="subject")
def test_is_valid_plain_reference_is_judged_as_r4b_judges_it(reference: str, field: str) -> None:
    # A {"reference": text} is checked by the reference's string type alone, not the whole Reference.
    draft = {**VALID_DRAFT, field: {"reference": reference}}
    assert is_valid(draft) is _r4b_valid(draft)
    # The rest of the draft is valid, so the memoised path alone must give R4B's verdict both ways
    # (is_valid falls back to full validation when it says no).
    assert _known_valid("MedicationRequest", draft) is _r4b_valid(draft)


def test_is_valid_drafts_differing_only_per_request_share_one_memoised_validation() -> None:
    before = _rest_is_valid.cache_info()
    for number in range(3):
        draft = {
            **VALID_DRAFT,
            "id": f"memo-{number}",
            "subject": {"reference": f"Patient/m{number}"},
        }
        assert is_valid(draft)
    after = _rest_is_valid.cache_info()
    assert after.hits - before.hits >= 2
    assert _known_valid("MedicationRequest", VALID_DRAFT)  # the stand-ins themselves are valid


def test_repaired_draft_needing_repair_after_a_valid_one_is_still_repaired() -> None:
    assert repaired(VALID_DRAFT) is VALID_DRAFT
    broken = {**VALID_DRAFT, "id": "ket-9", "reasonCode": {"text": "depression"}}
    fixed = repaired(broken)
    assert fixed is not None
    assert fixed is not broken
    assert fixed["reasonCode"] == [{"text": "depression"}]
    MedicationRequest.model_validate(fixed)


APPOINTMENT: dict[str, Any] = {
    "resourceType": "Appointment",
    "id": "appt-1",
    "status": "booked",
    "start": "2026-12-01T09:00:00-05:00",
    "end": "2026-12-01T10:00:00-05:00",
    "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
}


@pytest.mark.parametrize(
    ("field", "value"),
    [("start", "2026-12-02T09:00:00Z"), ("start", "2026-12-02"), ("end", "later"), ("id", "a b")],
)
def test_is_valid_memoised_appointment_verdict_agrees_with_r4b(field: str, value: Any) -> None:
    assert is_valid(APPOINTMENT)
    draft = {**APPOINTMENT, field: value}
    try:
        Appointment.model_validate(draft)
    except ValueError:
        expected = False
    else:
        expected = True
    assert is_valid(draft) is expected
