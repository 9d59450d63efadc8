"""The console's queries (per rule version and week; shadow rules) and the records they return.

Plain SQL both stores run; only the expression that turns an instant into its week differs, so each
store passes its own. Weeks start on Monday, in UTC, and are named by that Monday's date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

SQLITE_WEEK = "date({}, '-6 days', 'weekday 1')"
POSTGRES_WEEK = "to_char(date_trunc('week', {} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"

# A hook instance evaluated twice (an EHR's retry) is dated by its first evaluation.
_FIRST_SEEN = (
    "(SELECT hook_instance, MIN(evaluated_at) AS at FROM evaluations GROUP BY hook_instance) e"
    " ON e.hook_instance = c.hook_instance"
)


@dataclass(frozen=True, slots=True)
class WeeklyOutcome:
    """One rule version's cards in one week (of when they were shown), counted in cards."""

    topic: str
    rule_version: int
    week: str  # the Monday, YYYY-MM-DD
    shown: int
    accepted: int  # a suggestion accepted (whether or not also dismissed)
    overridden: int  # dismissed without any suggestion accepted


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """Overridden cards of one rule version by override reason (code and system only)."""

    topic: str
    rule_version: int
    system: str | None
    code: str | None  # None: no reason given
    cards: int


@dataclass(frozen=True, slots=True)
class RuleOutcomes:
    """What the analytics page reads: weekly outcomes and override reasons per rule version."""

    weeks: tuple[WeeklyOutcome, ...]
    reasons: tuple[ReasonCount, ...]


@dataclass(frozen=True, slots=True)
class ShadowCount:
    """How often one shadow rule version would have fired, and on which classes of record."""

    topic: str
    rule_version: int
    would_fire: int  # evaluations in which it would have produced a card
    record_classes: tuple[tuple[str, int], ...]  # (class of record, evaluations), most first


@dataclass(frozen=True, slots=True)
class ShadowReport:
    """Shadow rules beside the active ones, over the same evaluations."""

    evaluated: int  # evaluations that reached the rules (outcome "cards")
    shadow: tuple[ShadowCount, ...]
    active: tuple[tuple[str, int, int], ...]  # (topic, rule version, cards shown)


@dataclass(frozen=True, slots=True)
class AnalyticsQueries:
    """The SQL of the console's reads, for one dialect's week expression."""

    shown: str
    outcomes: str
    reasons: str

    @classmethod
    def for_week(cls, week: str) -> AnalyticsQueries:
        """``week`` formats one instant expression into its week's Monday (``SQLITE_WEEK``...)."""
        of = week.format("e.at")
        return cls(
            shown=(
                f"SELECT c.topic, c.rule_version, {of}, COUNT(*) FROM evaluation_cards c"  # noqa: S608
                f" JOIN {_FIRST_SEEN} GROUP BY 1, 2, 3"
            ),
            outcomes=(
                "SELECT topic, rule_version, week, SUM(acc), SUM(CASE WHEN ov = 1 AND acc = 0"  # noqa: S608
                " THEN 1 ELSE 0 END) FROM (SELECT c.topic AS topic, c.rule_version AS"
                f" rule_version, {of} AS week,"
                " MAX(CASE WHEN f.outcome = 'accepted' THEN 1 ELSE 0 END) AS acc,"
                " MAX(CASE WHEN f.outcome = 'overridden' THEN 1 ELSE 0 END) AS ov"
                f" FROM feedback f JOIN evaluation_cards c ON c.card_uuid = f.card_uuid"
                f" JOIN {_FIRST_SEEN} GROUP BY c.card_uuid, 1, 2, 3) per_card GROUP BY 1, 2, 3"
            ),
            reasons=REASONS,
        )


# Reasons of the overridden cards only: a card also accepted counts as accepted, as in the totals.
REASONS = (
    "SELECT c.topic, c.rule_version, f.override_system, f.override_code,"
    " COUNT(DISTINCT f.card_uuid) FROM feedback f"
    " JOIN evaluation_cards c ON c.card_uuid = f.card_uuid"
    " WHERE f.outcome = 'overridden' AND NOT EXISTS (SELECT 1 FROM feedback a"
    " WHERE a.card_uuid = f.card_uuid AND a.outcome = 'accepted') GROUP BY 1, 2, 3, 4"
)
SHADOW_FIRINGS = (
    "SELECT topic, rule_version, COUNT(DISTINCT firing_id) FROM shadow_findings GROUP BY 1, 2"
)
SHADOW_CLASSES = (
    "SELECT topic, rule_version, record_class, COUNT(DISTINCT firing_id) FROM shadow_findings"
    " GROUP BY 1, 2, 3"
)
EVALUATED = "SELECT COUNT(*) FROM evaluations WHERE outcome = 'cards'"
ACTIVE = "SELECT topic, rule_version, COUNT(*) FROM evaluation_cards GROUP BY 1, 2"
SHADOW_QUERIES = (EVALUATED, SHADOW_FIRINGS, SHADOW_CLASSES, ACTIVE)


class _Executes(Protocol):
    def execute(self, sql: str) -> Any: ...


def read_rule_outcomes(db: _Executes, queries: AnalyticsQueries) -> RuleOutcomes:
    """The analytics from a synchronous connection (SQLite)."""
    return rule_outcomes(
        db.execute(queries.shown).fetchall(),
        db.execute(queries.outcomes).fetchall(),
        db.execute(queries.reasons).fetchall(),
    )


def read_shadow_report(db: _Executes) -> ShadowReport:
    """The shadow report from a synchronous connection (SQLite)."""
    evaluated, firings, classes, active = (db.execute(q).fetchall() for q in SHADOW_QUERIES)
    return shadow_report(evaluated, firings, classes, active)


def rule_outcomes(
    shown_rows: Iterable[tuple[Any, ...]],
    outcome_rows: Iterable[tuple[Any, ...]],
    reason_rows: Iterable[tuple[Any, ...]],
) -> RuleOutcomes:
    """One row per rule version and week, sorted; the reasons most frequent first."""
    counts: dict[tuple[str, int, str], list[int]] = {}
    for topic, version, week, shown in shown_rows:
        counts.setdefault((str(topic), int(version), str(week)), [0, 0, 0])[0] = int(shown)
    for topic, version, week, accepted, overridden in outcome_rows:
        row = counts.setdefault((str(topic), int(version), str(week)), [0, 0, 0])
        row[1], row[2] = int(accepted), int(overridden)
    weeks = tuple(
        WeeklyOutcome(topic, version, week, *values)
        for (topic, version, week), values in sorted(counts.items())
    )
    reasons = sorted(
        (
            ReasonCount(str(t), int(v), _text(system), _text(code), int(n))
            for t, v, system, code, n in reason_rows
        ),
        key=lambda r: (r.topic, r.rule_version, -r.cards, r.code or "", r.system or ""),
    )
    return RuleOutcomes(weeks=weeks, reasons=tuple(reasons))


def shadow_report(
    evaluated_rows: Iterable[tuple[Any, ...]],
    firing_rows: Iterable[tuple[Any, ...]],
    class_rows: Iterable[tuple[Any, ...]],
    active_rows: Iterable[tuple[Any, ...]],
) -> ShadowReport:
    """Shadow rule versions with their classes of record, most frequent first."""
    classes: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for topic, version, record_class, n in class_rows:
        classes.setdefault((str(topic), int(version)), []).append((str(record_class), int(n)))
    shadow = tuple(
        ShadowCount(
            topic=str(topic),
            rule_version=int(version),
            would_fire=int(n),
            record_classes=tuple(
                sorted(classes.get((str(topic), int(version)), []), key=lambda c: (-c[1], c[0]))
            ),
        )
        for topic, version, n in sorted(firing_rows, key=lambda r: (str(r[0]), int(r[1])))
    )
    active = tuple(sorted((str(t), int(v), int(n)) for t, v, n in active_rows))
    (evaluated,) = (int(row[0]) for row in evaluated_rows)
    return ShadowReport(evaluated=evaluated, shadow=shadow, active=active)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
