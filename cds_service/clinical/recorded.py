"""When a medication record says it was taken: reported or ordered, its start, and its end. Pure.

A record's dates are spread over several fields, which differ between MedicationStatement,
MedicationRequest and DSTU2's MedicationOrder; these read the first one present.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cds_service.clinical.dose import duration_days
from cds_service.clinical.fhirjson import as_dict, first_instant
from cds_service.clinical.types import ENDED_STATUSES, JsonObject


def reported(resource: JsonObject, resource_type: str) -> bool:
    """Whether the record is what the patient or a carer reports, not a prescriber's order."""
    if resource_type == "MedicationStatement":
        return True  # a medication list entry: what the patient or a carer says is taken
    if resource.get("reportedBoolean") is True:
        return True
    return bool(as_dict(resource.get("reportedReference")))


def started(resource: JsonObject) -> datetime | None:
    """When the record says the medication was started (the first date it gives)."""
    dispense = as_dict(resource.get("dispenseRequest"))
    candidates = (
        as_dict(resource.get("effectivePeriod")).get("start"),
        resource.get("effectiveDateTime"),
        resource.get("authoredOn"),
        resource.get("dateWritten"),  # DSTU2 MedicationOrder
        as_dict(dispense.get("validityPeriod")).get("start"),
        resource.get("dateAsserted"),
    )
    return first_instant(candidates)


def ended(resource: JsonObject, resource_type: str, status: str) -> datetime | None:
    """When it ended: a stated end, else for a stopped or completed record the last date known."""
    dispense = as_dict(resource.get("dispenseRequest"))
    explicit = first_instant(
        (
            as_dict(resource.get("effectivePeriod")).get("end"),
            as_dict(dispense.get("validityPeriod")).get("end"),
        )
    )
    if explicit is not None or status not in ENDED_STATUSES:
        return explicit
    if resource_type == "MedicationStatement":
        return first_instant((resource.get("dateAsserted"), resource.get("effectiveDateTime")))
    return _request_stop_estimate(resource, dispense)


def _request_stop_estimate(resource: JsonObject, dispense: JsonObject) -> datetime | None:
    # A stopped/completed request without an end date: it applied at most until its supply ran out
    # (authoredOn + expectedSupplyDuration); without a supply we take authoredOn, the last date we know.
    # statusReason carries no date, so it is not used.
    authored = first_instant((resource.get("authoredOn"), resource.get("dateWritten")))
    if authored is None:
        return None
    supply_days = duration_days(as_dict(dispense.get("expectedSupplyDuration")))
    return authored + timedelta(days=supply_days) if supply_days else authored
