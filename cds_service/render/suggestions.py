"""Card suggestions: one action each, resources built and validated with fhir.resources R4B models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from cds_service.cdshooks.models import Action, Suggestion
from cds_service.clinical.types import JsonObject, KetamineOrder
from cds_service.rules.schema import SuggestionSpec

SNOMED = "http://snomed.info/sct"
# SNOMED CT procedures; the text carries the clinical intent, the code makes the order codable.
BP_MONITORING = {"system": SNOMED, "code": "46973005", "display": "Blood pressure taking"}
SPO2_MONITORING = {"system": SNOMED, "code": "252465000", "display": "Pulse oximetry"}

_MODELS: dict[str, Any] = {"MedicationRequest": MedicationRequest, "ServiceRequest": ServiceRequest}


@dataclass(frozen=True, slots=True)
class SuggestionContext:
    """What a suggestion needs about this card: the order, the patient, the hold text."""

    order: KetamineOrder
    patient_id: str
    hold_instruction: str | None  # None when no hold applies
    new_uuid: Callable[[], str]


def build_suggestion(spec: SuggestionSpec, context: SuggestionContext) -> Suggestion | None:
    """The suggestion for one SuggestionSpec, or None when it does not fit this order."""
    action = _BUILDERS[spec.kind](context)
    if action is None:
        return None
    return Suggestion(
        label=spec.label,
        uuid=context.new_uuid(),
        isRecommended=True if spec.is_recommended else None,
        actions=[action],
    )


def add_hold_instruction(context: SuggestionContext) -> Action | None:
    """Update of the WHOLE draft order with the hold as a note (an update replaces the resource)."""
    original = context.order.resource
    if context.hold_instruction is None or not original.get("id"):
        return None
    # A new top-level dict and note list; nested values are shared with the draft and never mutated.
    updated = {
        **original,
        "note": [*_as_notes(original.get("note")), {"text": context.hold_instruction}],
    }
    # Drafts from real clients can be imperfect (the Sandbox sends category as an object). We send
    # the updated copy of what the EHR gave us, never a re-serialised subset; we only refuse when our
    # own change is what breaks validation. Our change is the note list alone, so the notes are
    # validated as Annotations; the whole draft is validated only when that fails.
    if not notes_valid(updated["note"]) and is_valid(original):
        return None
    return Action(type="update", description=context.hold_instruction, resource=updated)


def _as_notes(note: Any) -> list[Any]:
    # The update replaces the draft, so every note it had is kept: a lone object or value (the
    # Sandbox sends some arrays as one object) becomes one item rather than being unpacked.
    if isinstance(note, list):
        return note
    return [note] if note else []


def notes_valid(notes: list[Any]) -> bool:
    """Whether every note is a valid R4 Annotation (what our update changes in the draft)."""
    try:
        for note in notes:
            Annotation.model_validate(note)
    except (ValidationError, ValueError, TypeError):
        return False
    return True


def cancel_ketamine_order(context: SuggestionContext) -> Action | None:
    """Delete the draft ketamine order by ``resourceId`` (CDS Hooks 2.0)."""
    resource = context.order.resource
    resource_id = resource.get("id")
    if not resource_id:
        return None
    return Action(
        type="delete",
        description="Cancel the ketamine order and consider an alternative treatment",
        resourceId=f"{context.order.resource_type}/{resource_id}",
    )


def order_bp_monitoring(context: SuggestionContext) -> Action:
    """Create a draft ServiceRequest for blood pressure before, during and after the infusion."""
    text = "Blood pressure monitoring before, during and after the ketamine infusion"
    return _create_monitoring(context, BP_MONITORING, text)


def order_spo2_monitoring(context: SuggestionContext) -> Action:
    """Create a draft ServiceRequest for continuous pulse oximetry during the infusion."""
    text = "Continuous pulse oximetry (SpO2) during the ketamine infusion and until recovery"
    return _create_monitoring(context, SPO2_MONITORING, text)


def _create_monitoring(context: SuggestionContext, coding: dict[str, str], text: str) -> Action:
    resource = monitoring_request(context.patient_id, coding, text, context.order.start)
    return Action(type="create", description=text, resource=resource)


def monitoring_request(
    patient_id: str, coding: dict[str, str], text: str, start: datetime | None
) -> JsonObject:
    """A validated R4B ServiceRequest (draft order) as plain JSON.

    The order's fixed part is validated once per (code, text) and reused; per call only the subject
    reference (a string) and the occurrence (a FHIR dateTime we format) are filled in.
    """
    data = {**_monitoring_template(coding["system"], coding["code"], coding["display"], text)}
    data["subject"] = {"reference": f"Patient/{patient_id}"}
    if start is not None:
        data["occurrenceDateTime"] = fhir_datetime(start)
    return data


@lru_cache(maxsize=64)
def _monitoring_template(system: str, code: str, display: str, text: str) -> JsonObject:
    data: JsonObject = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": text},
        "subject": {"reference": "Patient/example"},
        "occurrenceDateTime": "2026-01-01T09:00:00Z",
    }
    model = ServiceRequest.model_validate(data)
    dumped: JsonObject = model.model_dump(mode="json", exclude_none=True)
    del dumped["subject"], dumped["occurrenceDateTime"]
    return dumped


def fhir_datetime(moment: datetime) -> str:
    """A FHIR dateTime with seconds and a zone, UTC written as Z (as fhir.resources writes it)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    text = aware.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def is_valid(resource: JsonObject) -> bool:
    """Whether an R4 resource validates with its fhir.resources R4B model (unknown types: no check)."""
    model = _MODELS.get(str(resource.get("resourceType")))
    if model is None:
        return True
    try:
        model.model_validate(resource)
    except (ValidationError, ValueError, TypeError):
        return False
    return True


_BUILDERS: dict[str, Callable[[SuggestionContext], Action | None]] = {
    "add-hold-instruction": add_hold_instruction,
    "cancel-ketamine-order": cancel_ketamine_order,
    "order-bp-monitoring": order_bp_monitoring,
    "order-spo2-monitoring": order_spo2_monitoring,
}
