"""The CDS Hooks card rules every rendered card must pass (shared by render, case and patient tests)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.communicationrequest import CommunicationRequest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cdshooks.models import Action, Card

_MODELS: dict[str, Any] = {
    "MedicationRequest": MedicationRequest,
    "ServiceRequest": ServiceRequest,
    "CommunicationRequest": CommunicationRequest,
    "Appointment": Appointment,
}


def assert_card_follows_spec(card: Card, *, lenient_update: bool = False) -> None:
    """Summary length, indicator, source and topic, uuid, override reasons, suggestions."""
    Card.model_validate(card.model_dump())
    assert 0 < len(card.summary) < 140
    assert card.indicator in {"info", "warning", "critical"}
    assert card.source.label
    assert card.source.topic is not None
    assert card.source.topic.code.isalnum()
    assert card.uuid
    assert card.overrideReasons
    assert all(reason.display for reason in card.overrideReasons)
    assert (card.selectionBehavior is not None) == bool(card.suggestions)
    for link in card.links or []:
        assert link.url.startswith("https://")
    for suggestion in card.suggestions or []:
        assert suggestion.uuid
        # One action per suggestion (Epic's rule), except the patient's instructions written into
        # each booked appointment of a series (spec profile: the actions are applied together).
        if len(suggestion.actions) > 1:
            assert {
                (a.type, (a.resource or {}).get("resourceType")) for a in suggestion.actions
            } == {("update", "Appointment")}
        assert suggestion.actions
        for action in suggestion.actions:
            _assert_action_valid(action, lenient_update)


def _assert_action_valid(action: Action, lenient_update: bool) -> None:
    if action.type == "delete":
        assert action.resourceId is not None
        assert "/" in action.resourceId
        return
    assert action.resource is not None
    if lenient_update and action.type == "update":
        return
    _MODELS[action.resource["resourceType"]].model_validate(action.resource)
