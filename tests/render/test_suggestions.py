"""Suggestions: one action each, whole-draft updates, deletes by resourceId, valid R4B creates."""

from __future__ import annotations

from dataclasses import replace
from itertools import count
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cdshooks.models import Suggestion
from cds_service.clinical.types import KetamineOrder
from cds_service.render.drafts import is_valid
from cds_service.render.suggestions import SuggestionContext, build_suggestion, hold_update
from cds_service.rules.schema import SuggestionKind, SuggestionSpec
from tests.rule_builders import START, make_order

HOLD = "Ketamine infusion: no clonazepam from 21:00"


def _context(order: KetamineOrder | None = None, hold: str | None = HOLD) -> SuggestionContext:
    ids = count(1)
    return SuggestionContext(
        order=order or make_order(),
        patient_id="p1",
        hold_instruction=hold,
        new_uuid=lambda: f"uuid-{next(ids)}",
    )


def _build(kind: SuggestionKind, context: SuggestionContext | None = None) -> Suggestion | None:
    spec = SuggestionSpec(kind=kind, label="Do it", is_recommended=True)
    return build_suggestion(spec, context or _context())


def _resource(suggestion: Suggestion | None) -> dict[str, Any]:
    assert suggestion is not None
    resource = suggestion.actions[0].resource
    assert resource is not None
    return resource


def _hold(order: KetamineOrder, *notes: str) -> Suggestion | None:
    shared = hold_update(order, notes or (HOLD,), "clonazepam")
    return _build("add-hold-instruction", replace(_context(order), shared_hold=shared))


def test_add_hold_instruction_updates_whole_draft_with_note():
    order = make_order()
    suggestion = _hold(order)
    assert suggestion is not None
    (action,) = suggestion.actions
    assert action.type == "update"
    assert action.resource is not None
    assert action.resource["note"] == [{"text": HOLD}]
    assert {k: v for k, v in action.resource.items() if k != "note"} == order.resource
    assert "note" not in order.resource  # the draft itself is never mutated
    assert is_valid(action.resource)
    assert (suggestion.uuid, suggestion.isRecommended) == ("uuid-1", True)


def test_add_hold_instruction_carries_every_hold_of_the_response_in_one_update():
    suggestion = _hold(make_order(), HOLD, "Ketamine infusion: no lamotrigine from 21:00")
    resource = _resource(suggestion)
    assert [note["text"] for note in resource["note"]] == [
        HOLD,
        "Ketamine infusion: no lamotrigine from 21:00",
    ]
    assert suggestion is not None
    assert suggestion.label == "Add the clonazepam holds to the ketamine order"


def test_add_hold_instruction_keeps_existing_notes():
    order = make_order(resource={**make_order().resource, "note": [{"text": "first"}]})
    assert _resource(_hold(order))["note"] == [{"text": "first"}, {"text": HOLD}]


def test_add_hold_instruction_when_draft_note_is_one_object_keeps_it_whole():
    # The Sandbox sends some arrays as lone objects; unpacking one would keep only its keys.
    order = make_order(resource={**make_order().resource, "note": {"text": "first"}})
    assert _resource(_hold(order))["note"] == [{"text": "first"}, {"text": HOLD}]


def test_add_hold_instruction_repairs_the_sandbox_draft_so_it_validates_as_r4():
    category = {"coding": [{"code": "community"}]}
    reason = {"text": "Treatment-resistant depression"}
    draft = {**make_order().resource, "category": category, "reasonCode": reason, "x-vendor": 1}
    assert not is_valid(draft)
    resource = _resource(_hold(make_order(resource=draft)))
    MedicationRequest.model_validate(resource)
    assert resource["category"] == [category]
    assert resource["reasonCode"] == [reason]
    assert "x-vendor" not in resource
    assert draft["category"] == category  # the client's draft is left as it was


def test_add_hold_instruction_without_hold_is_omitted():
    assert _build("add-hold-instruction", _context(hold=None)) is None


def test_add_hold_instruction_without_order_id_is_omitted():
    body = {k: v for k, v in make_order().resource.items() if k != "id"}
    assert _hold(make_order(resource=body)) is None


def test_add_hold_instruction_on_a_draft_missing_what_r4_requires_is_omitted():
    body = {k: v for k, v in make_order().resource.items() if k != "intent"}
    assert _hold(make_order(resource=body)) is None


def test_cancel_ketamine_order_deletes_by_resource_id():
    suggestion = _build("cancel-ketamine-order")
    assert suggestion is not None
    (action,) = suggestion.actions
    assert (action.type, action.resourceId, action.resource) == (
        "delete",
        "MedicationRequest/request-123",
        None,
    )


def test_cancel_ketamine_order_without_id_is_omitted():
    body = {k: v for k, v in make_order().resource.items() if k != "id"}
    assert _build("cancel-ketamine-order", _context(make_order(resource=body))) is None


def test_order_bp_monitoring_creates_valid_service_request_at_start():
    suggestion = _build("order-bp-monitoring")
    assert suggestion is not None
    (action,) = suggestion.actions
    resource = _resource(suggestion)
    assert action.type == "create"
    ServiceRequest.model_validate(resource)
    assert (resource["status"], resource["intent"]) == ("draft", "order")
    assert resource["subject"] == {"reference": "Patient/p1"}
    assert resource["code"]["coding"][0]["code"] == "46973005"
    assert resource["occurrenceDateTime"].startswith(START.strftime("%Y-%m-%dT%H:%M"))


def test_order_spo2_monitoring_without_start_has_no_occurrence():
    resource = _resource(_build("order-spo2-monitoring", _context(make_order(start=None))))
    assert resource["code"]["coding"][0]["code"] == "252465000"
    assert "occurrenceDateTime" not in resource


def test_is_valid_unknown_resource_type_is_not_checked():
    assert is_valid({"resourceType": "NutritionOrder", "anything": True})
