"""Seeded cards and feedback for the console's tests, with the numbers they must produce.

BZD is overridden on 57 of its 60 cards with feedback (95 %, over the 50 needed): flagged, and most of
its overrides say the card did not apply, so the advice is to tighten the members. LTG is overridden
on 5 of 10 (50 %): not flagged. Four BZD cards get no feedback; one BZD card is accepted and then
dismissed (counted once, as accepted).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cds_service.cdshooks.models import FeedbackItem
from cds_service.console.codes import SYSTEM as HL7
from cds_service.store.opening import open_store
from cds_service.store.records import AuditedCard, AuditStore, EvaluationRecord, ShadowFinding

WEEKS = ("2026-11-02", "2026-11-09", "2026-11-16")  # Mondays
OURS = "http://ketamine-cds.org/fhir/CodeSystem/override-reason"


@dataclass(frozen=True)
class Week:
    """One rule's cards in one week: how many shown, and what the feedback said."""

    shown: int
    accepted: int
    # (system, code or None, cards), all overridden
    overridden: tuple[tuple[str | None, str | None, int], ...]


# BZD weekly override rate: 18/20, 19/20, 20/20; LTG: 2/4, 3/6.
PLAN: dict[tuple[str, int], dict[str, Week]] = {
    ("BZD", 0): {
        WEEKS[0]: Week(
            22,
            2,
            ((HL7, "cds-not-applicable", 10), (HL7, "risk-benefit-ratio", 6), (None, None, 2)),
        ),
        WEEKS[1]: Week(
            21,
            1,
            ((HL7, "cds-not-applicable", 10), (HL7, "risk-benefit-ratio", 7), (None, None, 2)),
        ),
        WEEKS[2]: Week(
            21,
            0,
            ((HL7, "cds-not-applicable", 10), (HL7, "risk-benefit-ratio", 7), (None, None, 3)),
        ),
    },
    ("LTG", 0): {
        WEEKS[1]: Week(8, 2, ((OURS, "dose-not-due", 2),)),
        WEEKS[2]: Week(12, 3, ((OURS, "dose-not-due", 3),)),
    },
}
EXPECTED = {
    "BZD": {"shown": 64, "accepted": 3, "overridden": 57, "with_feedback": 60},
    "LTG": {"shown": 20, "accepted": 5, "overridden": 5, "with_feedback": 10},
}
SHADOW_TOPIC = "LTG"  # in shadow-mode tests; here only its audit rows are seeded
SHADOW_FIRINGS = 7


def plan_for(versions: dict[str, int]) -> dict[tuple[str, int], dict[str, Week]]:
    """The plan under the rule versions of the knowledge base in use."""
    return {(topic, versions[topic]): weeks for (topic, _), weeks in PLAN.items()}


def records_and_feedback(
    versions: dict[str, int],
) -> tuple[list[EvaluationRecord], list[FeedbackItem]]:
    records: list[EvaluationRecord] = []
    items: list[FeedbackItem] = []
    for (topic, version), weeks in plan_for(versions).items():
        for week, plan in weeks.items():
            monday = datetime.fromisoformat(week).replace(hour=9, tzinfo=UTC)
            outcomes = _outcomes(plan)
            for n in range(plan.shown):
                uuid = f"{topic}-{week}-{n}"
                at = monday + timedelta(days=n % 7, minutes=n)
                card = AuditedCard(
                    uuid=uuid, topic=topic, indicator="warning", rule_version=version
                )
                records.append(_record(f"hi-{uuid}", at, (card,)))
                if n < len(outcomes):
                    items.extend(_feedback(uuid, at, outcomes[n]))
    # One BZD card accepted and then dismissed: still counted once, as accepted.
    first = f"BZD-{WEEKS[0]}-0"
    items.append(_item(first, "overridden", datetime.fromisoformat(WEEKS[0]).replace(tzinfo=UTC)))
    return records, items


def _outcomes(plan: Week) -> list[tuple[str, str | None, str | None]]:
    outcomes: list[tuple[str, str | None, str | None]] = [("accepted", None, None)] * plan.accepted
    for system, code, cards in plan.overridden:
        outcomes += [("overridden", system, code)] * cards
    return outcomes


def _record(
    hook_instance: str,
    at: datetime,
    cards: tuple[AuditedCard, ...],
    shadow: tuple[ShadowFinding, ...] = (),
) -> EvaluationRecord:
    return EvaluationRecord(
        hook_instance=hook_instance,
        service_id="ketamine-infusion-check",
        hook="order-sign",
        evaluated_at=at,
        outcome="cards",
        kb_version="1.0.0",
        kb_digest="seed",
        cards=cards,
        duration_ms=1.0,
        shadow=shadow,
    )


def _feedback(
    uuid: str, at: datetime, outcome: tuple[str, str | None, str | None]
) -> list[FeedbackItem]:
    kind, system, code = outcome
    extra: dict[str, Any] = {}
    if kind == "overridden" and code is not None:
        extra["overrideReason"] = {"reason": {"system": system, "code": code}}
    return [_item(uuid, kind, at + timedelta(minutes=5), **extra)]


def _item(uuid: str, outcome: str, at: datetime, **extra: Any) -> FeedbackItem:
    body: dict[str, Any] = {
        "card": uuid,
        "outcome": outcome,
        "outcomeTimestamp": at.isoformat(),
        **extra,
    }
    if outcome == "accepted":
        body["acceptedSuggestions"] = [{"id": "hold"}]
    return FeedbackItem.model_validate(body)


def shadow_records(version: int) -> list[EvaluationRecord]:
    """Evaluations in which the shadow rule would have fired (no card was sent)."""
    at = datetime.fromisoformat(WEEKS[2]).replace(hour=10, tzinfo=UTC)
    classes = (
        "lamotrigine · MedicationRequest · current · scheduled",
        "lamotrigine · MedicationStatement · current · scheduled",
    )
    return [
        _record(
            f"shadow-{n}",
            at,
            cards=(),
            shadow=(ShadowFinding(SHADOW_TOPIC, version, "info", classes[: 1 + n % 2]),),
        )
        for n in range(SHADOW_FIRINGS)
    ]


async def seed(store: AuditStore, versions: dict[str, int], *, shadow: bool = False) -> None:
    records, items = records_and_feedback(versions)
    if shadow:
        records += shadow_records(versions[SHADOW_TOPIC])
    for record in records:
        await store.record_evaluation(record)
    await store.flush()
    await store.record_feedback("ketamine-infusion-check", items)


def seed_url(database_url: str, versions: dict[str, int], *, shadow: bool = False) -> None:
    async def main() -> None:
        store = await open_store(database_url)
        try:
            await seed(store, versions, shadow=shadow)
        finally:
            await store.close()

    asyncio.run(main())
