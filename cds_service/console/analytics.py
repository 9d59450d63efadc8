"""Override analytics per rule version: rates, weekly trends, reasons with their text, and flags. Pure.

The override rate is overridden cards over cards with feedback (accepted + overridden): an EHR that
sends no feedback for a card left on screen says nothing about it, so shown cards are not the base.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cds_service.console import codes
from cds_service.console.advice import Flag, FlagPolicy, flag_for
from cds_service.rules.knowledge import CompiledKnowledgeBase
from cds_service.store.analytics import ReasonCount, RuleOutcomes, WeeklyOutcome


@dataclass(frozen=True, slots=True)
class Reason:
    """One override reason of a rule version, with the text a person reads."""

    code: str | None
    system: str | None
    display: str  # HL7's display for its codes, ours for our own
    offered_as: str | None  # our card's wording of an HL7 code, when it differs
    cards: int
    share: float  # of the overridden cards that gave any reason or none


@dataclass(frozen=True, slots=True)
class RuleStats:
    """One rule version's totals, weeks, reasons and flag."""

    topic: str
    title: str
    rule_version: int
    loaded: bool  # this version is the one the service runs now
    indicator: str
    shown: int
    accepted: int
    overridden: int
    weeks: tuple[WeeklyOutcome, ...]
    reasons: tuple[Reason, ...]
    flag: Flag | None

    @property
    def label(self) -> str:
        return f"{self.topic} v{self.rule_version}"

    @property
    def with_feedback(self) -> int:
        return self.accepted + self.overridden

    @property
    def override_rate(self) -> float | None:
        return rate(self.overridden, self.with_feedback)


@dataclass(frozen=True, slots=True)
class Analytics:
    """The analytics page: every rule version with cards, the weeks they span, and the policy."""

    rules: tuple[RuleStats, ...]
    weeks: tuple[str, ...]
    policy: FlagPolicy

    @property
    def flagged(self) -> tuple[RuleStats, ...]:
        return tuple(rule for rule in self.rules if rule.flag is not None)

    def chart_data(self) -> dict[str, Any]:
        """What the charts draw: a weekly override-rate line per rule version, reasons per rule."""
        return {
            "weeks": list(self.weeks),
            "trend": [
                {"label": rule.label, "rates": _weekly_rates(rule, self.weeks)}
                for rule in self.rules
                if rule.with_feedback
            ],
            "reasons": {
                rule.label: {
                    "labels": [reason.display for reason in rule.reasons],
                    "cards": [reason.cards for reason in rule.reasons],
                }
                for rule in self.rules
                if rule.reasons
            },
        }


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def build_analytics(
    outcomes: RuleOutcomes, kb: CompiledKnowledgeBase, policy: FlagPolicy
) -> Analytics:
    """Combine the store's counts with the knowledge base's titles and reason texts."""
    weeks: dict[tuple[str, int], list[WeeklyOutcome]] = {}
    for week in outcomes.weeks:
        weeks.setdefault((week.topic, week.rule_version), []).append(week)
    reasons: dict[tuple[str, int], list[ReasonCount]] = {}
    for reason in outcomes.reasons:
        reasons.setdefault((reason.topic, reason.rule_version), []).append(reason)
    ours = our_displays(kb)
    rules = tuple(
        _rule_stats(key, weeks.get(key, []), reasons.get(key, []), kb, ours, policy)
        for key in sorted(set(weeks) | set(reasons))
    )
    return Analytics(
        rules=rules, weeks=tuple(sorted({w.week for w in outcomes.weeks})), policy=policy
    )


def our_displays(kb: CompiledKnowledgeBase) -> dict[tuple[str, str], str]:
    """(topic, code) -> the wording our card offered; ("", code) for any topic's."""
    displays: dict[tuple[str, str], str] = {}
    for rule in kb.rules:
        for reason in rule.override_reasons:
            displays[(rule.id, reason.code)] = reason.display
            displays.setdefault(("", reason.code), reason.display)
    return displays


def _rule_stats(
    key: tuple[str, int],
    weeks: Sequence[WeeklyOutcome],
    reasons: Sequence[ReasonCount],
    kb: CompiledKnowledgeBase,
    ours: Mapping[tuple[str, str], str],
    policy: FlagPolicy,
) -> RuleStats:
    topic, version = key
    title, loaded, indicator = topic, False, "-"  # a combination's topic, or a rule since removed
    try:
        rule = kb.rule(topic)
        title, loaded, indicator = rule.title, rule.version == version, str(rule.indicator.default)
    except KeyError:
        pass
    accepted, overridden = sum(w.accepted for w in weeks), sum(w.overridden for w in weeks)
    total = sum(r.cards for r in reasons) or 1
    return RuleStats(
        topic=topic,
        title=title,
        rule_version=version,
        loaded=loaded,
        indicator=indicator,
        shown=sum(w.shown for w in weeks),
        accepted=accepted,
        overridden=overridden,
        weeks=tuple(weeks),
        reasons=tuple(_reason(topic, r, ours, r.cards / total) for r in reasons),
        flag=flag_for(overridden, accepted + overridden, indicator, reasons, policy),
    )


def _reason(
    topic: str, reason: ReasonCount, ours: Mapping[tuple[str, str], str], share: float
) -> Reason:
    code = reason.code
    offered = ours.get((topic, code)) or ours.get(("", code)) if code else None
    if code is None:
        display = "No reason given"
    elif reason.system == codes.SYSTEM and code in codes.DISPLAYS:
        display = codes.DISPLAYS[code]
    else:
        display = offered or f"{code} (not one of ours)"
    return Reason(
        code=code,
        system=reason.system,
        display=display,
        offered_as=offered if offered and offered != display else None,
        cards=reason.cards,
        share=share,
    )


def _weekly_rates(rule: RuleStats, weeks: Sequence[str]) -> list[float | None]:
    by_week = {w.week: w for w in rule.weeks}
    rates: list[float | None] = []
    for week in weeks:
        row = by_week.get(week)
        value = rate(row.overridden, row.accepted + row.overridden) if row else None
        rates.append(None if value is None else round(value * 100, 1))
    return rates
