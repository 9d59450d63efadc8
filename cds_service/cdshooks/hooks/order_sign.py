"""``order-sign`` (CDS Hooks library 1.0): every draft in the ordering session is checked."""

from __future__ import annotations

from typing import Any

from cds_service.cdshooks import ordering
from cds_service.cdshooks.models import OrderContext
from cds_service.cdshooks.registry import HookSpec


def _prepare(context: dict[str, Any]) -> dict[str, Any]:
    # order-sign has no selections; ignore one a client adds so that every draft is checked.
    return {**context, "selections": None}


HOOK = HookSpec(
    name="order-sign",
    context_model=OrderContext,
    rules_hook="order-sign",
    find_triggers=ordering.ketamine_orders,
    references_to_read=ordering.medication_references,
    prepare=_prepare,
    service_id="ketamine-infusion-order-sign",
    on_legacy_id=True,
    listing=ordering.listing("order-sign", "order signed"),
    prefetch_keys=ordering.PREFETCH_KEYS,
    context_keys=ordering.CONTEXT_KEYS,
    # The PDDI CDS IG's place for it: what order-select already showed is not repeated here.
    filters_repeats=True,
)
