"""``encounter-start`` (CDS Hooks library, maturity 1): check-in on the day of an infusion.

At check-in the hold windows have usually opened already: the cards then ask to confirm when each
held medicine was last taken. Only an infusion appointment starting within the check-in horizon
(``CDS_CHECKIN_HORIZON_HOURS``), or one that began in the last ``LATE_ARRIVAL`` (a patient checking
in late), makes the service speak; no appointment data, or none near, is no cards.
"""

from __future__ import annotations

from datetime import timedelta

from cds_service.cdshooks.hooks.patient_view import near_sessions
from cds_service.cdshooks.models import HookContext
from cds_service.cdshooks.prefetch import APPOINTMENTS, PATIENT_KEYS
from cds_service.cdshooks.registry import HookSpec, Listing, TriggerScope
from cds_service.clinical.types import KetamineOrder

LATE_ARRIVAL = timedelta(hours=4)


def checkin_sessions(_context: HookContext, scope: TriggerScope) -> tuple[KetamineOrder, ...]:
    """The infusion sessions of this check-in: starting soon, or begun a little while ago."""
    return near_sessions(scope, LATE_ARRIVAL, scope.checkin_horizon)


HOOK = HookSpec(
    name="encounter-start",
    context_model=HookContext,
    rules_hook="order-sign",
    find_triggers=checkin_sessions,
    service_id="ketamine-infusion-encounter-start",
    listing=Listing(
        title="Ketamine infusion check-in: when were the held medicines last taken",
        description=(
            "At check-in for a ketamine infusion: for each medication the patient should have "
            "held (benzodiazepines, lamotrigine, Z-drugs), asks to confirm when it was last "
            "taken, and gives review advice for other interacting classes; otherwise no cards."
        ),
        usage=(
            "Send encounter-start. Prefetch the Appointment search below or give fhirServer "
            "(https) and fhirAuthorization. No infusion appointment near: no cards."
        ),
    ),
    prefetch_keys=(APPOINTMENTS,),
    trigger_keys=(APPOINTMENTS,),
    # Read from fhirServer once an infusion is near, like the medications (a gap, never a 412).
    context_keys=PATIENT_KEYS,
    patient_delivery="none",
)
