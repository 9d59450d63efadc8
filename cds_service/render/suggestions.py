"""Card suggestions: one action each, shaped by the EHR profile; every resource valid R4B. Pure.

Holds: under the ``spec`` profile every hold of a response goes into ONE update of the draft order
(the client's draft, repaired, plus one note per hold), offered on each card that has a hold. An
update replaces the resource, so per-card updates would each erase the other's note; the shared one
keeps every note whichever is accepted, or all of them in turn. Under ``epic`` (no MedicationRequest
update) the hold is a ServiceRequest pre-procedure instruction when the site configured its code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cdshooks.models import Action, Suggestion
from cds_service.clinical.types import InfusionStart, JsonObject, KetamineOrder
from cds_service.render.drafts import repaired
from cds_service.render.profiles import EPIC_PREFERENCE_LIST, Profile
from cds_service.rules.schema import SuggestionSpec

SNOMED = "http://snomed.info/sct"
# SNOMED CT procedures; the text carries the clinical intent, the code makes the order codable.
BP_MONITORING = {"system": SNOMED, "code": "46973005", "display": "Blood pressure taking"}
SPO2_MONITORING = {"system": SNOMED, "code": "252465000", "display": "Pulse oximetry"}
HOLD_INSTRUCTION = "Pre-procedure instruction: medication hold before the ketamine infusion"


@dataclass(frozen=True, slots=True)
class HoldUpdate:
    """The one update of the draft order that carries every hold of the response."""

    resource: JsonObject
    label: str
    description: str


@dataclass(frozen=True, slots=True)
class SuggestionContext:
    """What a suggestion needs about this card: the order, the patient, the holds, the client."""

    order: KetamineOrder
    patient_id: str
    hold_instruction: str | None  # this card's hold note; None when no hold applies
    new_uuid: Callable[[], str]
    profile: Profile | None = None  # None: plain CDS Hooks (the spec profile)
    shared_hold: HoldUpdate | None = None


def build_suggestion(spec: SuggestionSpec, context: SuggestionContext) -> Suggestion | None:
    """The suggestion for one SuggestionSpec, or None when it does not fit this order or client."""
    action = _BUILDERS[spec.kind](context)
    if action is None:
        return None
    label = spec.label
    if spec.kind == "add-hold-instruction" and context.shared_hold and action.type == "update":
        label = context.shared_hold.label
    return Suggestion(
        label=label,
        uuid=context.new_uuid(),
        isRecommended=True if spec.is_recommended else None,
        actions=[action],
    )


def hold_update(order: KetamineOrder, notes: Sequence[str], drugs: str) -> HoldUpdate | None:
    """The draft (repaired to valid R4) with every hold note added; None when it cannot be valid."""
    draft = order.resource
    if not notes or not draft.get("id"):
        return None
    base = repaired(draft)
    if base is None:
        return None
    existing = _as_notes(base.get("note"))
    # The repaired draft is valid and each note is an Annotation with non-empty text, so the update
    # is valid as built (tests validate it): no second validation per call.
    updated = {**base, "note": [*existing, *({"text": note} for note in notes if note)]}
    label = (
        "Add the hold to the ketamine order"
        if len(notes) == 1
        else f"Add the {drugs} holds to the ketamine order"
    )
    return HoldUpdate(resource=updated, label=label, description=" ".join(notes))


def _as_notes(note: Any) -> list[Any]:
    # The update replaces the draft, so every note it had is kept (repair made a lone one a list).
    if isinstance(note, list):
        return note
    return [note] if note else []


def add_hold_instruction(context: SuggestionContext) -> Action | None:
    """spec: the shared update of the whole draft; epic: a pre-procedure instruction order."""
    if context.hold_instruction is None:
        return None
    if context.profile is not None and context.profile.hold_as == "instruction":
        text = context.hold_instruction
        return _create_order(context, "add-hold-instruction", None, HOLD_INSTRUCTION, text)
    shared = context.shared_hold
    if shared is None:
        return None
    return Action(type="update", description=shared.description, resource=shared.resource)


def cancel_ketamine_order(context: SuggestionContext) -> Action | None:
    """Delete the draft ketamine order by ``resourceId`` (CDS Hooks 2.0; Epic deletes this way)."""
    resource = context.order.resource
    resource_id = resource.get("id")
    if not resource_id or context.order.resource_type == "Appointment":
        return None  # not the order: the card's text still says to consider an alternative
    return Action(
        type="delete",
        description="Cancel the ketamine order and consider an alternative treatment",
        resourceId=f"{context.order.resource_type}/{resource_id}",
    )


def order_bp_monitoring(context: SuggestionContext) -> Action | None:
    """Create a draft ServiceRequest for blood pressure before, during and after the infusion."""
    text = "Blood pressure monitoring before, during and after the ketamine infusion"
    return _create_order(context, "order-bp-monitoring", BP_MONITORING, text, text)


def order_spo2_monitoring(context: SuggestionContext) -> Action | None:
    """Create a draft ServiceRequest for continuous pulse oximetry during the infusion."""
    text = "Continuous pulse oximetry (SpO2) during the ketamine infusion and until recovery"
    return _create_order(context, "order-spo2-monitoring", SPO2_MONITORING, text, text)


def _create_order(
    context: SuggestionContext,
    kind: str,
    coding: dict[str, str] | None,
    name: str,
    description: str,
) -> Action | None:
    # Epic creates an order from the site's preference list only (it ignores the details we send),
    # so without the site's code there is nothing it could create.
    profile = context.profile
    site_code = profile.preference_codes.get(kind) if profile is not None else None
    if profile is not None and profile.codes_required and site_code is None:
        return None
    codings = [c for c in (_site_coding(site_code), coding) if c is not None]
    resource = order_request(
        context.patient_id, tuple(_frozen(c) for c in codings), name, context.order.start
    )
    if kind == "add-hold-instruction":
        resource["note"] = [{"text": description}]
    return Action(type="create", description=description, resource=resource)


def _site_coding(code: str | None) -> dict[str, str] | None:
    return {"system": EPIC_PREFERENCE_LIST, "code": code} if code else None


def _frozen(coding: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(coding.items()))


def order_request(
    patient_id: str,
    codings: tuple[tuple[tuple[str, str], ...], ...],
    text: str,
    start: InfusionStart | None,
) -> JsonObject:
    """A validated R4B ServiceRequest (draft order) as plain JSON.

    The order's fixed part is validated once per (codings, text) and reused; per call only the subject
    reference (a string) and the occurrence (a FHIR dateTime or date we format) are filled in.
    """
    data = {**_order_template(codings, text)}
    data["subject"] = {"reference": f"Patient/{patient_id}"}
    if start is not None:
        # A date-only start stays a date: FHIR dateTime allows one, and it invents no time.
        data["occurrenceDateTime"] = fhir_datetime(start.at) if start.at else start.day.isoformat()
    return data


@lru_cache(maxsize=64)
def _order_template(codings: tuple[tuple[tuple[str, str], ...], ...], text: str) -> JsonObject:
    data: JsonObject = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [dict(coding) for coding in codings], "text": text},
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


_BUILDERS: dict[str, Callable[[SuggestionContext], Action | None]] = {
    "add-hold-instruction": add_hold_instruction,
    "cancel-ketamine-order": cancel_ketamine_order,
    "order-bp-monitoring": order_bp_monitoring,
    "order-spo2-monitoring": order_spo2_monitoring,
}
