"""``medication-prescribe`` (CDS Hooks 1.0, deprecated): mapped onto the order-select code path.

Its drafts travel as ``context.medications``; they are read as ``draftOrders`` with no selections, and
the cards follow the order-select rules (a drug being chosen). Not listed in discovery: it is answered
on the legacy service id only, where 1.0 clients were registered.
"""

from __future__ import annotations

from typing import Any

from cds_service.cdshooks import ordering
from cds_service.cdshooks.models import OrderContext
from cds_service.cdshooks.registry import HookSpec


def _prepare(context: dict[str, Any]) -> dict[str, Any]:
    medications = context.get("medications")
    if medications is not None and "draftOrders" not in context:
        context = {**context, "draftOrders": medications}
    return {**context, "selections": None}


HOOK = HookSpec(
    name="medication-prescribe",
    context_model=OrderContext,
    rules_hook="order-select",
    find_triggers=ordering.ketamine_orders,
    references_to_read=ordering.medication_references,
    prepare=_prepare,
    on_legacy_id=True,
    context_keys=ordering.CONTEXT_KEYS,
)
