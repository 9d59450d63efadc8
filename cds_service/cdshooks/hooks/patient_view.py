"""``patient-view`` (CDS Hooks library 1.0): a pre-visit review, only when an infusion is near.

Opening a chart is the most frequent moment there is: the service speaks only when the patient has
a ketamine infusion appointment starting within the site's horizon (``CDS_PREVISIT_HORIZON_DAYS``),
and answers no cards otherwise. The appointments are read first (prefetch, else the FHIR server);
the medications only once an infusion is near. Epic fires its own triggers (Open Chart) as this
hook, with ``com.epic.cdshooks.request.bpa-trigger-action``: they are answered the same way.

A server that cannot search Appointments gives nothing to decide from: that is no cards (logged and
counted as a gap), never a 412 and never a data-gap card on every chart open.
"""

from __future__ import annotations

from datetime import timedelta

from cds_service.cdshooks.models import HookContext
from cds_service.cdshooks.prefetch import APPOINTMENTS, PATIENT_KEYS
from cds_service.cdshooks.registry import HookSpec, Listing, TriggerScope
from cds_service.clinical import appointments
from cds_service.clinical.types import KetamineOrder


def near_sessions(
    scope: TriggerScope, after: timedelta, before: timedelta
) -> tuple[KetamineOrder, ...]:
    """One trigger carrying the infusion appointments read that start in the window, else none."""
    found = appointments.infusion_sessions(
        scope.resources.get(APPOINTMENTS, ()),
        scope.appointments,
        include_esketamine=scope.include_esketamine,
    )
    near = appointments.starting_within(found, scope.now, after, before)
    return (appointments.session_trigger(near),) if near else ()


def previsit_sessions(_context: HookContext, scope: TriggerScope) -> tuple[KetamineOrder, ...]:
    """The infusion sessions starting between now and the pre-visit horizon."""
    return near_sessions(scope, timedelta(0), scope.previsit_horizon)


HOOK = HookSpec(
    name="patient-view",
    context_model=HookContext,
    rules_hook="order-sign",
    find_triggers=previsit_sessions,
    service_id="ketamine-infusion-patient-view",
    listing=Listing(
        title="Ketamine infusion pre-visit medication review (chart opened)",
        description=(
            "Only when the patient has a ketamine infusion appointment in the coming days: checks "
            "the patient's medications and returns advisory cards with each session's hold "
            "windows and review advice for other interacting classes; otherwise no cards. "
            "Advisory only; never advises stopping a benzodiazepine abruptly."
        ),
        usage=(
            "Send patient-view. Prefetch the Appointment search below or give fhirServer (https) "
            "and fhirAuthorization; the medications are read from fhirServer only when an "
            "infusion appointment is near. No appointment data: no cards."
        ),
    ),
    prefetch_keys=(APPOINTMENTS,),
    trigger_keys=(APPOINTMENTS,),
    # Read from fhirServer once an infusion is near, like the medications (a gap, never a 412).
    context_keys=PATIENT_KEYS,
)
