"""The repeat filter: a card already shown at order selection is not announced again at signing.

Rule (after the PDDI CDS IG, which keys repeats on the rule, patient, encounter and user): a card is
a repeat when a card of the same rule with the same summary, detail and indicator was announced
for the same patient, encounter, user and order or appointment within ``CDS_REPEAT_WINDOW_HOURS``.
Every hook remembers what it announced; only ``order-sign`` (``HookSpec.filters_repeats``) leaves
repeats out: a repeated order-select must show its cards again, since clients replace a service's
cards on every call. ``CDS_REPEAT_FILTER``: ``off`` (the default: nothing is remembered),
``on-request`` (order-sign filters when the request carries the PDDI IG's
``extension.pddi-configuration-items.filter-out-repeated-alerts: true``) or ``always``.

Only a hash is stored, with its expiry: never the patient id or any text in clear. A store that
cannot be reached leaves every card in (showing twice is safer than showing nothing).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cds_service.cdshooks.models import Card, HookRequest
from cds_service.errors import StoreUnavailable
from cds_service.store.records import AuditStore

log = logging.getLogger("cds_service.store.repeats")
RepeatMode = Literal["off", "on-request", "always"]
PDDI_ITEMS = "pddi-configuration-items"
PDDI_FILTER = "filter-out-repeated-alerts"
_KEY_VERSION = b"ketamine-cds/announced/1"


def asks_to_filter(extension: Any) -> bool:
    """Whether a request's extension asks, as the PDDI CDS IG does, to filter repeated alerts."""
    items = extension.get(PDDI_ITEMS) if isinstance(extension, dict) else None
    return isinstance(items, dict) and items.get(PDDI_FILTER) is True


def announcement_key(card: Card, request: HookRequest, subject: str) -> str:
    """sha256 over the card's rule and content and whose it is; nothing readable is kept."""
    topic = card.source.topic.code if card.source.topic else ""
    context = request.context
    parts = (
        topic,
        card.indicator,
        card.summary,
        card.detail or "",
        context.patientId,
        context.encounterId or "",
        context.userId,
        subject,
    )
    digest = hashlib.sha256(_KEY_VERSION)
    for part in parts:
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(4, "big") + encoded)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class RepeatFilter:
    """Remembers the cards announced and leaves repeats out where the hook and setting say so."""

    store: AuditStore
    mode: RepeatMode = "off"
    window_seconds: float = 8 * 3600
    clock: Callable[[], float] = field(default=time.time)

    async def apply(
        self, request: HookRequest, subject: str, cards: Sequence[Card], *, filters: bool
    ) -> list[Card]:
        """The cards to answer; ``filters``: this hook leaves repeats out (order-sign)."""
        if self.mode == "off" or not cards:
            return list(cards)
        filtering = filters and (self.mode == "always" or asks_to_filter(request.extension))
        expires = self.clock() + self.window_seconds
        kept: list[Card] = []
        repeats: list[Card] = []
        for card in cards:
            new = await self._remember(announcement_key(card, request, subject), expires)
            (kept if new or not filtering else repeats).append(card)
        if repeats:
            topics = [c.source.topic.code for c in repeats if c.source.topic]
            log.info("repeated cards left out", extra={"topics": topics})
        return kept

    async def _remember(self, key: str, expires_at: float) -> bool:
        try:
            return await self.store.remember_announcement(key, expires_at)
        except StoreUnavailable as exc:
            log.warning("repeat filter: store unavailable", extra={"reason": exc.message})
            return True
