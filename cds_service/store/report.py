"""The feedback report's three queries (plain SQL both stores run) and how their rows combine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, Protocol

from cds_service.store.records import TopicFeedback

SHOWN = "SELECT topic, COUNT(*) FROM evaluation_cards GROUP BY topic"
# One row per card: whether it was ever accepted and ever dismissed (a card can be both, and is
# then counted once, as accepted). CASE keeps the SQL the same on SQLite and PostgreSQL.
OUTCOMES = (
    "SELECT COALESCE(c.topic, '(unknown card)'),"
    " MAX(CASE WHEN f.outcome = 'accepted' THEN 1 ELSE 0 END),"
    " MAX(CASE WHEN f.outcome = 'overridden' THEN 1 ELSE 0 END) FROM feedback f"
    " LEFT JOIN evaluation_cards c ON c.card_uuid = f.card_uuid"
    " GROUP BY COALESCE(c.topic, '(unknown card)'), f.card_uuid"
)
REASONS = (
    "SELECT COALESCE(c.topic, '(unknown card)'), COALESCE(f.override_code, '(none given)'), "
    "COUNT(DISTINCT f.card_uuid) FROM feedback f "
    "LEFT JOIN evaluation_cards c ON c.card_uuid = f.card_uuid "
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
    for topic, accepted, overridden in outcome_rows:
        counts = outcomes.setdefault(str(topic), {})
        both = bool(accepted) and bool(overridden)
        counts["accepted"] = counts.get("accepted", 0) + int(bool(accepted))
        counts["overridden"] = counts.get("overridden", 0) + int(bool(overridden) and not accepted)
        counts["both"] = counts.get("both", 0) + int(both)
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
            accepted_and_overridden=outcomes.get(topic, {}).get("both", 0),
        )
        for topic in sorted(set(shown) | set(outcomes))
    ]


# ------------------------------------------------------------------ the printed report

Displays = Mapping[tuple[str, str], str]  # (topic, override code) -> display; "" topic: any card's


def display(displays: Displays, topic: str, code: str) -> str:
    """The override reason's words as the card offered them."""
    if code == "(none given)":
        return "no reason given"
    return displays.get((topic, code)) or displays.get(("", code)) or "(not one of ours)"


def report_lines(rows: Sequence[TopicFeedback], displays: Displays) -> list[str]:
    """``feedback-report``'s table, then a note per topic with cards both accepted and dismissed."""
    lines = [f"{'topic':<16}{'shown':>7}{'accepted':>10}{'overridden':>12}  override reasons"]
    for row in rows:
        reasons = "; ".join(
            f"{display(displays, row.topic, code)} [{code}] ({n})"
            for code, n in row.override_reasons
        )
        lines.append(
            f"{row.topic:<16}{row.cards_shown:>7}{row.accepted:>10}{row.overridden:>12}  "
            f"{reasons or '-'}"
        )
    for row in rows:
        if row.accepted_and_overridden:
            cards = "card was" if row.accepted_and_overridden == 1 else "cards were"
            lines.append(
                f"note: {row.accepted_and_overridden} {row.topic} {cards} both accepted and "
                "dismissed; each is counted once, as accepted."
            )
    if not rows:
        lines.append("(no evaluations or feedback recorded yet)")
    return lines


def report_json(row: TopicFeedback, displays: Displays) -> dict[str, object]:
    """One topic's row for ``feedback-report --json``, reasons with their displays."""
    return {
        **{key: value for key, value in asdict(row).items() if key != "override_reasons"},
        "override_reasons": [
            {"code": code, "display": display(displays, row.topic, code), "cards": n}
            for code, n in row.override_reasons
        ],
    }
