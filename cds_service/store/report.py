"""The feedback report's three queries (plain SQL both stores run) and how their rows combine."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from cds_service.store.records import TopicFeedback

SHOWN = "SELECT topic, COUNT(*) FROM evaluation_cards GROUP BY topic"
OUTCOMES = (
    "SELECT COALESCE(c.topic, '(unknown card)'), f.outcome, COUNT(*) FROM feedback f "
    "LEFT JOIN evaluation_cards c ON c.card_uuid = f.card_uuid GROUP BY 1, 2"
)
REASONS = (
    "SELECT COALESCE(c.topic, '(unknown card)'), COALESCE(f.override_code, '(none given)'), "
    "COUNT(*) FROM feedback f LEFT JOIN evaluation_cards c ON c.card_uuid = f.card_uuid "
    "WHERE f.outcome = 'overridden' GROUP BY 1, 2 ORDER BY 3 DESC, 2"
)


class _Executes(Protocol):
    def execute(self, sql: str) -> Any: ...


def topic_feedback(db: _Executes) -> list[TopicFeedback]:
    """The report from a synchronous connection (SQLite)."""
    return combine(
        db.execute(SHOWN).fetchall(),
        db.execute(OUTCOMES).fetchall(),
        db.execute(REASONS).fetchall(),
    )


def combine(
    shown_rows: Iterable[tuple[Any, ...]],
    outcome_rows: Iterable[tuple[Any, ...]],
    reason_rows: Iterable[tuple[Any, ...]],
) -> list[TopicFeedback]:
    """One row per topic: cards shown, accepted, overridden and the override reasons by count."""
    shown = {str(topic): int(count) for topic, count in shown_rows}
    outcomes: dict[str, dict[str, int]] = {}
    for topic, outcome, count in outcome_rows:
        outcomes.setdefault(str(topic), {})[str(outcome)] = int(count)
    reasons: dict[str, list[tuple[str, int]]] = {}
    for topic, code, count in reason_rows:
        reasons.setdefault(str(topic), []).append((str(code), int(count)))
    return [
        TopicFeedback(
            topic=topic,
            cards_shown=shown.get(topic, 0),
            accepted=outcomes.get(topic, {}).get("accepted", 0),
            overridden=outcomes.get(topic, {}).get("overridden", 0),
            override_reasons=tuple(reasons.get(topic, ())),
        )
        for topic in sorted(set(shown) | set(outcomes))
    ]
