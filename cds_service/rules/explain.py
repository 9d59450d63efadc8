"""The trace of one evaluation: each record as read, what each class made of it, which rule made
each finding. Pure; what ``evaluate --explain`` and the console's explain page show.

The reasons mirror the engine's counting policy (``rules.engine``); whether a record *was* counted
is read from the evaluation itself, so the trace can never claim a count the engine did not make.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cds_service.clinical.readings import Outcome, RecordReading
from cds_service.clinical.types import (
    ENDED_STATUSES,
    InfusionStart,
    MedicationFact,
    days_before_start,
)
from cds_service.rules.engine import NEVER_COUNTED_STATUSES, counts
from cds_service.rules.findings import Evaluation, Finding
from cds_service.rules.knowledge import CompiledKnowledgeBase

MatchKind = Literal["exact", "probable"]


@dataclass(frozen=True, slots=True)
class ClassCheck:
    """What one class made of one record: counted (and how) or ignored (and why)."""

    topic: str
    counted: bool
    reason: str  # "current", "inside the 14-day washout", "status entered-in-error never counts"
    shadow: bool = False


@dataclass(frozen=True, slots=True)
class RecordTrace:
    """One medication record: what it was read as, and what each of its classes made of it."""

    position: int
    resource_type: str
    outcome: Outcome
    display: str
    match: MatchKind | None = None
    ingredients: tuple[str, ...] = ()
    status: str = ""
    dose: str | None = None
    as_needed: bool = False
    started: datetime | None = None
    ended: datetime | None = None
    classes: tuple[ClassCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class FindingTrace:
    """One finding: the rule (and version) that produced its card, and the records it counted."""

    topic: str
    rule_version: int
    indicator: str
    variant: str
    records: tuple[int, ...]  # positions of the records it counted
    shadow: bool = False


@dataclass(frozen=True, slots=True)
class EvaluationTrace:
    """Every record, every finding, and any rule that failed."""

    records: tuple[RecordTrace, ...]
    findings: tuple[FindingTrace, ...]
    failures: tuple[str, ...] = ()


def trace_evaluation(
    kb: CompiledKnowledgeBase,
    readings: Sequence[RecordReading],
    evaluation: Evaluation,
    shadow: Evaluation,
    *,
    hook: str,
    now: datetime,
    start: InfusionStart | None,
) -> EvaluationTrace:
    """The trace of an evaluation of ``readings`` (``shadow``: what the shadow rules found)."""
    positions = {id(r.fact): r.position for r in readings if r.fact is not None}
    counted = {
        (id(m.fact), f.rule.id) for f in (*evaluation.findings, *shadow.findings) for m in f.matches
    }
    checker = _Checker(kb, counted, hook, now, start)
    return EvaluationTrace(
        records=tuple(checker.record(reading) for reading in readings),
        findings=(
            *(_finding(f, positions, False) for f in evaluation.findings),
            *(_finding(f, positions, True) for f in shadow.findings),
        ),
        failures=evaluation.failures + shadow.failures,
    )


def _finding(finding: Finding, positions: dict[int, int], shadow: bool) -> FindingTrace:
    records = sorted({positions[id(m.fact)] for m in finding.matches if id(m.fact) in positions})
    return FindingTrace(
        topic=finding.rule.id,
        rule_version=finding.rule.version,
        indicator=finding.indicator,
        variant=finding.variant,
        records=tuple(records),
        shadow=shadow,
    )


@dataclass(frozen=True, slots=True)
class _Checker:
    kb: CompiledKnowledgeBase
    counted: set[tuple[int, str]]
    hook: str
    now: datetime
    start: InfusionStart | None

    def record(self, reading: RecordReading) -> RecordTrace:
        fact = reading.fact
        if fact is None:
            return RecordTrace(
                reading.position, reading.resource_type, reading.outcome, reading.text
            )
        return RecordTrace(
            position=reading.position,
            resource_type=reading.resource_type,
            outcome=reading.outcome,
            display=fact.display,
            match="probable" if fact.probable else "exact",
            ingredients=tuple(sorted(fact.ingredients)),
            status=fact.status,
            dose=fact.dose_text,
            as_needed=fact.as_needed,
            started=fact.started,
            ended=fact.ended,
            classes=tuple(self._checks(fact)),
        )

    def _checks(self, fact: MedicationFact) -> list[ClassCheck]:
        shadow = {rule.id for rule in self.kb.shadow_rules}
        topics = dict.fromkeys(
            topic
            for name in sorted(fact.ingredients)
            for topic in self.kb.lexicon.classes_for(name)
        )
        return [
            ClassCheck(
                topic, (id(fact), topic) in self.counted, self._why(fact, topic), topic in shadow
            )
            for topic in topics
        ]

    def _why(self, fact: MedicationFact, topic: str) -> str:
        rule = self.kb.rule(topic)
        if self.hook not in rule.hooks:
            return f"the rule does not run at {self.hook}"
        status = fact.status.strip().lower()
        if status in NEVER_COUNTED_STATUSES:
            return f"status {status} never counts"
        state = counts(fact, rule.washout_days, self.now, self.start)
        if state == "current":
            return (
                "current" if status not in ENDED_STATUSES else "long-acting injection still acting"
            )
        if state == "washout":
            return f"stopped inside the {rule.washout_days}-day washout"
        last = fact.ended or fact.started
        if last is None:
            return "stopped, with no date: outside any washout"
        days = days_before_start(last, self.start, self.now)
        if (id(fact), topic) in self.counted:
            return f"stopped {days:.0f} days before, counted as a withdrawal risk"
        return f"stopped {days:.0f} days before: outside the {rule.washout_days}-day washout"
