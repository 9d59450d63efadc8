"""What the store keeps, and the protocol every store implements (SQLite today; PostgreSQL next).

One record per evaluation (hookInstance, time, service, topics fired, card uuids, knowledge-base
version) and the clinicians' feedback. Never a patient identifier, a token, or free-text comments (a
comment may name the patient): only whether one was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cds_service.cdshooks.models import FeedbackItem


@dataclass(frozen=True, slots=True)
class AuditedCard:
    uuid: str
    topic: str
    indicator: str
    rule_version: int


@dataclass(frozen=True, slots=True)
class EvaluationRecord:
    hook_instance: str
    service_id: str
    hook: str
    evaluated_at: datetime
    outcome: str  # "cards" | "no-ketamine-order" | "data-unavailable" | "not-checked"
    kb_version: str
    kb_digest: str
    cards: tuple[AuditedCard, ...]
    duration_ms: float


@dataclass(frozen=True, slots=True)
class TopicFeedback:
    """Feedback per card topic, counted in cards: a card reported twice, or both accepted and then
    dismissed (the Sandbox keeps a card on screen after a suggestion is taken), counts once."""

    topic: str
    cards_shown: int
    accepted: int  # cards with a suggestion accepted (whether or not also dismissed)
    overridden: int  # cards dismissed without any suggestion accepted
    override_reasons: tuple[tuple[str, int], ...]  # (reason code or "(none given)", cards)
    accepted_and_overridden: int = 0  # of ``accepted``: cards that were dismissed as well


class AuditStore(Protocol):
    """What the service needs from a store; a PostgreSQL store implements the same four calls."""

    async def record_evaluation(self, record: EvaluationRecord) -> None: ...

    async def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int: ...

    async def feedback_report(self) -> list[TopicFeedback]: ...

    async def close(self) -> None: ...
