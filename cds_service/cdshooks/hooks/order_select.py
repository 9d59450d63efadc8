"""``order-select`` (CDS Hooks library 1.0): the checks focus on the newly selected orders."""

from __future__ import annotations

from typing import Any

from cds_service.cdshooks import ordering
from cds_service.cdshooks.models import OrderContext
from cds_service.cdshooks.registry import HookSpec
from cds_service.errors import HookRequestInvalid


def _bare(context: dict[str, Any]) -> str | None:
    # The Sandbox re-sends order-select with only patientId and userId when its Rx View tab is
    # clicked again (no order in the session): nothing to check, and not the clinician's error.
    if "draftOrders" not in context and "selections" not in context:
        return "order-select without draftOrders or selections: no order to check"
    return None


def _prepare(context: dict[str, Any]) -> dict[str, Any]:
    if "selections" not in context:
        raise HookRequestInvalid(
            "Missing required field 'context.selections'", field="context.selections"
        )
    return context


HOOK = HookSpec(
    name="order-select",
    context_model=OrderContext,
    rules_hook="order-select",
    find_triggers=ordering.ketamine_orders,
    references_to_read=ordering.medication_references,
    prepare=_prepare,
    answer_empty=_bare,
    service_id="ketamine-infusion-order-select",
    on_legacy_id=True,
    listing=ordering.listing("order-select", "order selected"),
    prefetch_keys=ordering.PREFETCH_KEYS,
    context_keys=ordering.CONTEXT_KEYS,
)
