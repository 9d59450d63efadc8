"""What the order hooks share: their discovery text and how a draftOrders Bundle triggers the checks."""

from __future__ import annotations

from cds_service.cdshooks.models import OrderContext
from cds_service.cdshooks.prefetch import (
    MEDICATION_REQUESTS,
    MEDICATION_STATEMENTS,
    PATIENT,
    PATIENT_KEYS,
)
from cds_service.cdshooks.registry import Listing, TriggerScope
from cds_service.clinical import orders
from cds_service.clinical.types import KetamineOrder

DESCRIPTION = (
    "Checks the patient's medications (MedicationStatement and MedicationRequest) when an IV ketamine "
    "infusion is ordered, and returns advisory cards: hold windows before the infusion (benzodiazepines, "
    "lamotrigine, Z-drugs) and review or monitoring advice for other interacting classes. Advisory only; "
    "never advises stopping a benzodiazepine abruptly."
)
USAGE = (
    "Send {hook} with context.draftOrders. Prefetch the templates below or give fhirServer (https) "
    "and fhirAuthorization so the service can read the medications itself; it answers 412 when it "
    "cannot read any medication list."
)


def listing(hook: str, moment: str) -> Listing:
    """The discovery text of one order hook; ``moment`` says when it fires ("when an order is signed")."""
    return Listing(
        title=f"Ketamine infusion medication check ({moment})",
        description=DESCRIPTION,
        usage=USAGE.format(hook=hook),
    )


PREFETCH_KEYS = (PATIENT, MEDICATION_STATEMENTS, MEDICATION_REQUESTS, *PATIENT_KEYS)
# Read beside the medications: Conditions, social history, blood pressure (a gap, never a 412).
CONTEXT_KEYS = PATIENT_KEYS


def ketamine_orders(context: OrderContext, scope: TriggerScope) -> tuple[KetamineOrder, ...]:
    """The draft orders that are ketamine infusions (on order-select, among the selections)."""
    return orders.find_ketamine_orders(
        context.draftOrders,
        context.selections,
        scope.lexicon,
        include_esketamine=scope.include_esketamine,
        medications=scope.medications,
    )


def medication_references(context: OrderContext) -> tuple[str, ...]:
    """Medication references of candidate drafts that neither the draft nor its Bundle holds."""
    return orders.unresolved_medication_references(context.draftOrders, context.selections)
