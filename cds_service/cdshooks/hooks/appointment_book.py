"""``appointment-book`` (CDS Hooks library, maturity 1): the ketamine infusion sessions being booked.

An appointment in ``context.appointments`` is a session when the manifest's appointment terms say
so; the holds are placed on each upcoming session's start and end. Booking commits to the infusion
as signing an order does, so the cards follow the order-sign rules.
"""

from __future__ import annotations

from typing import Any

from cds_service.cdshooks import ordering
from cds_service.cdshooks.models import HookContext
from cds_service.cdshooks.registry import HookSpec, Listing, TriggerScope
from cds_service.clinical import appointments
from cds_service.clinical.types import KetamineOrder


class AppointmentBookContext(HookContext):
    """Context of appointment-book: the proposed Appointments, as a Bundle."""

    appointments: dict[str, Any]


def booked_sessions(
    context: AppointmentBookContext, scope: TriggerScope
) -> tuple[KetamineOrder, ...]:
    """One trigger carrying the upcoming infusion sessions being booked; none when there are none."""
    resources = appointments.bundle_resources(context.appointments)
    found = appointments.infusion_sessions(
        resources, scope.appointments, include_esketamine=scope.include_esketamine
    )
    sessions = appointments.upcoming(found, scope.now)
    return (appointments.session_trigger(sessions),) if sessions else ()


HOOK = HookSpec(
    name="appointment-book",
    context_model=AppointmentBookContext,
    rules_hook="order-sign",
    find_triggers=booked_sessions,
    service_id="ketamine-infusion-appointment-book",
    listing=Listing(
        title="Ketamine infusion medication check (appointment booked)",
        description=(
            "Checks the patient's medications when ketamine infusion sessions are booked, and "
            "returns advisory cards with each session's hold windows (benzodiazepines, "
            "lamotrigine, Z-drugs) counted from the appointment's start and end, review advice "
            "for other interacting classes, and plain-language instructions for the patient. "
            "Advisory only; never advises stopping a benzodiazepine abruptly."
        ),
        usage=(
            "Send appointment-book with context.appointments (proposed Appointments). Prefetch the "
            "templates below or give fhirServer (https) and fhirAuthorization; it answers 412 "
            "when it cannot read any medication list."
        ),
    ),
    prefetch_keys=ordering.PREFETCH_KEYS,
    context_keys=ordering.CONTEXT_KEYS,
    patient_delivery="appointment",
)
