"""What the store keeps, and the protocol every store implements (SQLite and PostgreSQL).

One record per evaluation (hookInstance, time, service, topics fired, card uuids, knowledge-base
version) and the clinicians' feedback. Never a patient identifier, a token, or free text (a comment
or an override reason's display may name the patient): only the reason's code and system, and
whether a comment was given.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cds_service.cdshooks.models import FeedbackItem
from cds_service.errors import FeedbackInvalid
from cds_service.store.analytics import RuleOutcomes, ShadowReport


@dataclass(frozen=True, slots=True)
class AuditedCard:
    uuid: str
    topic: str
    indicator: str
    rule_version: int


@dataclass(frozen=True, slots=True)
class ShadowFinding:
    """A card a shadow rule would have produced: never sent, so it has no card uuid."""

    topic: str
    rule_version: int
    indicator: str
    # Classes of the records it matched, from our vocabulary only, e.g.
    # "gabapentin · MedicationRequest · current · scheduled": never a record's own text.
    record_classes: tuple[str, ...]


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
    shadow: tuple[ShadowFinding, ...] = ()


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


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One feedback item as stored: the idempotency key (card, outcome, instant) and no free text."""

    card_uuid: str
    outcome: str
    outcome_at: datetime  # UTC
    service_id: str
    accepted_suggestions: str | None  # JSON list of suggestion ids
    override_system: str | None
    override_code: str | None
    has_comment: bool


def shadow_rows(
    batch: Sequence[EvaluationRecord],
) -> list[tuple[str, str, datetime, str, int, str, str]]:
    """One row per (shadow firing, class of record), each firing under an id of its own."""
    return [
        (firing, r.hook_instance, r.evaluated_at, f.topic, f.rule_version, f.indicator, klass)
        for r in batch
        for f, firing in ((f, uuid.uuid4().hex) for f in r.shadow)
        for klass in dict.fromkeys(f.record_classes)
    ]


def feedback_rows(service_id: str, items: Sequence[FeedbackItem]) -> list[FeedbackRow]:
    """The rows to store; ``FeedbackInvalid`` (400) for an instant that has no UTC equivalent."""
    return [_feedback_row(service_id, index, item) for index, item in enumerate(items)]


def _feedback_row(service_id: str, index: int, item: FeedbackItem) -> FeedbackRow:
    reason = item.overrideReason.reason if item.overrideReason else None
    accepted = [s.id for s in item.acceptedSuggestions] if item.acceptedSuggestions else None
    return FeedbackRow(
        card_uuid=item.card,
        outcome=item.outcome,
        outcome_at=_utc(item.outcomeTimestamp, f"feedback[{index}].outcomeTimestamp"),
        service_id=service_id,
        accepted_suggestions=json.dumps(accepted) if accepted else None,
        override_system=reason.system if reason else None,
        override_code=reason.code if reason else None,
        has_comment=bool(item.overrideReason and item.overrideReason.userComment),
    )


def _utc(instant: datetime, field: str) -> datetime:
    # RFC 3339 allows 0001-01-01T00:00:00+14:00, which is before year 1 in UTC: Python cannot
    # represent it, and neither store could compare it with other instants. Refuse it as invalid.
    try:
        return instant.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise FeedbackInvalid(
            "Feedback: outcomeTimestamp is outside the years 1-9999 once converted to UTC",
            field=field,
        ) from exc


class AuditStore(Protocol):
    """What the service needs from a store (SQLite and PostgreSQL implement it alike).

    Writes that cannot be made raise ``StoreUnavailable``; ``record_evaluation`` never raises (it
    queues, and the store retries).
    """

    async def record_evaluation(self, record: EvaluationRecord) -> None: ...

    async def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int: ...

    async def card_topics(self, card_uuids: Sequence[str]) -> dict[str, str]: ...

    async def remember_token(self, key: str, expires_at: float) -> bool:
        """True if ``key`` was new (now remembered until ``expires_at``), False if already seen."""
        ...

    async def remember_announcement(self, key: str, expires_at: float) -> bool:
        """True if this card (a hash, ``store.repeats``) was not announced before ``expires_at``
        of an earlier announcement; it is now remembered until ``expires_at``."""
        ...

    async def feedback_report(self) -> list[TopicFeedback]: ...

    async def rule_outcomes(self) -> RuleOutcomes:
        """Cards shown, accepted and overridden per rule version and week; override reasons."""
        ...

    async def shadow_report(self) -> ShadowReport:
        """How often each shadow rule would have fired, beside the active rules' cards."""
        ...

    async def check(self) -> None:
        """Raise ``StoreUnavailable`` unless a write could be made now (readiness)."""
        ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...
