"""How the patient's plan reaches the patient, as each EHR can take it. Pure.

- ``spec`` (and ``oracle``): on ``appointment-book``, one suggestion that updates each booked
  Appointment's ``patientInstruction`` with that session's plan; on the order hooks and
  ``patient-view``, a suggestion that creates a CommunicationRequest to the patient (subject and
  recipient the patient, the plan as payload, ``about`` the order or the appointments).
- ``epic`` (no CommunicationRequest, no Appointment update): the plan is card text, and a
  ServiceRequest patient-instruction order is offered when the site configured its preference-list
  code (``patient-instruction`` in ``CDS_EPIC_PREFERENCE_LIST_CODES``).

Every resource sent is valid R4B: the client's own resources are repaired (``drafts``) per call; the
CommunicationRequest is built by us from strings into string fields, so its shape is proven once by
tests against fhir.resources rather than validated on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cds_service.cdshooks.models import Action, Suggestion
from cds_service.clinical.types import JsonObject, KetamineOrder
from cds_service.render.drafts import repaired
from cds_service.render.patient import PatientPlan
from cds_service.render.profiles import EPIC_PREFERENCE_LIST, Profile
from cds_service.render.suggestions import fhir_datetime, order_request

PATIENT_INSTRUCTION = "patient-instruction"
COMMUNICATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/communication-category"
_USER_TYPES = ("Practitioner/", "PractitionerRole/")


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who the plan is for and who offers it: the call's patient, user and encounter."""

    patient_id: str
    user_id: str | None = None
    encounter_id: str | None = None
    delivery: str = "communication"  # "appointment" | "communication" | "none"


@dataclass(frozen=True, slots=True)
class PatientDelivery:
    """The plan of one response and how it is offered on each card that holds a medicine."""

    plan: PatientPlan
    actions: tuple[Action, ...]
    label: str
    as_text: bool  # epic: the plan is card text
    lead_topic: str  # the card that also carries what always applies (epic)

    def suggestion(self, new_uuid: Callable[[], str]) -> Suggestion | None:
        """The same actions on every card with a held medicine, each with its own uuid."""
        if not self.actions:
            return None
        return Suggestion(label=self.label, uuid=new_uuid(), actions=list(self.actions))

    def detail(self, topic: str) -> str | None:
        """epic: the patient's part of this card's plan, to read out or print."""
        if not self.as_text or not any(m.topic == topic for m in self.plan.medicines):
            return None
        text = self.plan.text(topics={topic}, title=False, general=topic == self.lead_topic)
        return f"**For the patient** (plain language)\n\n{text}"


def deliver(
    plan: PatientPlan,
    order: KetamineOrder,
    recipient: Recipient,
    profile: Profile,
    now: datetime | None,
) -> PatientDelivery | None:
    """How this response offers the plan; None when nothing is held or the hook offers nothing."""
    if not plan.holds_anything or recipient.delivery == "none":
        return None
    lead = plan.medicines[0].topic
    if profile.hold_as == "instruction":
        actions = _epic_order(plan, order, recipient, profile)
        label = "Order the patient's medicine instructions"
        return PatientDelivery(plan, actions, label, as_text=True, lead_topic=lead)
    if recipient.delivery == "appointment":
        actions = _appointment_updates(plan, order)
        count = len(actions)
        where = "the appointment" if count == 1 else f"the {count} appointments"
        label = f"Add the patient's medicine instructions to {where}"
        return PatientDelivery(plan, actions, label, as_text=False, lead_topic=lead)
    actions = _communication(plan, order, recipient, now)
    label = "Send the patient their medicine instructions"
    return PatientDelivery(plan, actions, label, as_text=False, lead_topic=lead)


def _appointment_updates(plan: PatientPlan, order: KetamineOrder) -> tuple[Action, ...]:
    actions = []
    for session in order.sessions:
        if not session.resource.get("id"):
            continue
        text = plan.text(sessions={session.reference})
        updated = with_instruction(session.resource, text, plan.title)
        if updated is not None:
            description = f"Patient instructions for {session.reference}: {text}"
            actions.append(Action(type="update", description=description, resource=updated))
    return tuple(actions)


def with_instruction(appointment: JsonObject, text: str, title: str) -> JsonObject | None:
    """The booked Appointment (repaired to valid R4) with the plan in ``patientInstruction``.

    The clinic's own instruction is kept; a plan written earlier (from its title on) is replaced.
    """
    base = repaired(appointment)
    if base is None:
        return None
    existing = base.get("patientInstruction")
    kept = existing.split(title, 1)[0].rstrip() if isinstance(existing, str) else ""
    updated = {**base, "patientInstruction": f"{kept}\n\n{text}" if kept else text}
    return updated if repaired(updated) is updated else None


def _communication(
    plan: PatientPlan, order: KetamineOrder, recipient: Recipient, now: datetime | None
) -> tuple[Action, ...]:
    patient = {"reference": f"Patient/{recipient.patient_id}"}
    about = [{"reference": s.reference} for s in order.moments if "/#" not in s.reference]
    resource: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "status": "draft",
        "category": [{"coding": [{"system": COMMUNICATION_CATEGORY, "code": "instruction"}]}],
        "subject": patient,
        "recipient": [patient],
        "payload": [{"contentString": plan.text()}],
    }
    if about:
        resource["about"] = about
    if now is not None:
        resource["authoredOn"] = fhir_datetime(now)
    if recipient.user_id and recipient.user_id.startswith(_USER_TYPES):
        resource["requester"] = {"reference": recipient.user_id}
    if recipient.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{recipient.encounter_id}"}
    description = "Send the patient their medicine instructions before the ketamine infusion"
    return (Action(type="create", description=description, resource=resource),)


def _epic_order(
    plan: PatientPlan, order: KetamineOrder, recipient: Recipient, profile: Profile
) -> tuple[Action, ...]:
    # Epic creates an order only from the site's preference list (it ignores what we send).
    code = profile.preference_codes.get(PATIENT_INSTRUCTION)
    if code is None:
        return ()
    coding = (("code", code), ("system", EPIC_PREFERENCE_LIST))
    text = "Patient instructions: medicines before the ketamine infusion"
    resource = order_request(recipient.patient_id, (coding,), text, order.start)
    resource["patientInstruction"] = plan.text()
    return (Action(type="create", description=text, resource=resource),)
