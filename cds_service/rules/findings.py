"""What the engine found: matches, hold windows, dose assessments, combination alerts. Frozen values.

The renderer reads these; they carry the effective rule (site overrides applied) they came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cds_service.clinical.types import Indicator, MedicationFact
from cds_service.rules.schema import Combination, DoseLevel, DosePolicy, Member, Modifier, RuleSpec

Variant = Literal["default", "light", "strong"]
SEVERITY: Mapping[str, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class Match:
    """One medication record that belongs to a class, through one of its members."""

    fact: MedicationFact
    member: Member
    within_washout: bool  # counted only because it stopped within the class's washout
    equivalent_per_day: float | None  # reference-drug units/day (diazepam mg, MME); None: unknown
    days_taken: int | None
    equivalent_max_per_day: float | None = None  # at the stated maximum (as needed), when stated
    withdrawal: bool = False  # stopped after long regular use, inside the class's withdrawal window


@dataclass(frozen=True, slots=True)
class HoldWindow:
    """When to hold the class around the infusion; clock times only when the order's start is known.

    We do not know how long the infusion runs, so ``resume_after`` is start + resume hours and the
    card's text says "after the infusion".
    """

    before_hours: float
    resume_after_hours: float | None
    hold_from: datetime | None
    resume_after: datetime | None
    as_needed_only: bool = False


@dataclass(frozen=True, slots=True)
class DoseAssessment:
    """Daily exposure in the class's reference drug (diazepam, oral morphine) and its duration."""

    per_day: float | None  # None: some regular dose is not coded or has no factor: not estimated
    high_dose_mg_per_day: float
    regular_use_days: int
    longest_days_taken: int | None
    regular_daily_use: bool
    all_as_needed: bool
    policy: DosePolicy
    maximum_per_day: float | None = None  # at the stated maximum, when above the usual figure
    without_factor: tuple[str, ...] = ()  # current members the table has no factor for
    counts_as_needed: bool = False  # the usual figure includes one as-needed dose a day

    @property
    def high_dose(self) -> bool:
        """Above the class's high-dose threshold (8 mg/day diazepam-equivalent by default)."""
        dose = self.per_day
        return dose is not None and dose > self.high_dose_mg_per_day

    @property
    def level(self) -> DoseLevel | None:
        """The highest wording level the usual daily figure reaches, if any."""
        dose = self.per_day
        if dose is None:
            return None
        reached = [
            level
            for level in self.policy.levels
            if dose > level.threshold or (level.inclusive and dose == level.threshold)
        ]
        return max(reached, key=lambda level: level.threshold, default=None)


@dataclass(frozen=True, slots=True)
class CombinationAlert:
    """A risky combination the patient is on, and which of its kinds of drug are present."""

    combination: Combination
    present: tuple[tuple[str, tuple[str, ...]], ...]  # (group name, the patient's ingredients)


@dataclass(frozen=True, slots=True)
class Circumstance:
    """A condition of the patient that changed this card (patient-context.yaml modifiers)."""

    modifier: Modifier
    condition: str  # the set's title ("epilepsy")
    source: str | None = None  # the problem-list entry; None: the record's own indication

    @property
    def heading(self) -> str:
        """ "Taken for epilepsy (the record's indication)" or "Epilepsy on the problem list (...)"."""
        if self.source is None:
            return f"Taken for {self.condition} (the record's own indication)"
        title = f"{self.condition[:1].upper()}{self.condition[1:]}"
        return f"{title} on the problem list ({self.source})"


@dataclass(frozen=True, slots=True)
class Finding:
    """One interacting class present in the patient's medications."""

    rule: RuleSpec  # the effective rule, site overrides applied
    matches: tuple[Match, ...]
    indicator: Indicator
    variant: Variant
    hold: HoldWindow | None
    dose: DoseAssessment | None
    alerts: tuple[CombinationAlert, ...] = ()
    circumstances: tuple[Circumstance, ...] = ()
    # The patient's context that could not be read and might change this card ("Condition list:
    # not in prefetch and no fhirServer given"): said on the card, never a card of its own.
    unchecked: tuple[str, ...] = ()
    # Derived from ``matches`` on first use and kept: a response's cards, patient plan and shared
    # hold ask for them about forty times. Never passed in, so ``replace`` starts them afresh.
    _current: tuple[Match, ...] | None = field(default=None, init=False, repr=False, compare=False)
    _held: tuple[Match, ...] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def withdrawal(self) -> bool:
        """Whether a record was stopped after long regular use, inside the withdrawal window."""
        return any(match.withdrawal for match in self.matches)

    @property
    def current_matches(self) -> tuple[Match, ...]:
        """Matches the patient is taking now (not only inside a washout)."""
        current = self._current
        if current is None:
            current = tuple(match for match in self.matches if not match.within_washout)
            object.__setattr__(self, "_current", current)
        return current

    @property
    def held(self) -> tuple[Match, ...]:
        """The current matches its hold applies to (``held_matches`` of its rule and matches)."""
        held = self._held
        if held is None:
            held = held_matches(self.rule, self.matches)
            object.__setattr__(self, "_held", held)
        return held

    @property
    def substance_only(self) -> bool:
        """Every current record is a substance (street drug, alcohol): defer or abstain, no hold."""
        current = self.current_matches
        return bool(current) and all(match.member.substance for match in current)


@dataclass(frozen=True, slots=True)
class Evaluation:
    findings: tuple[Finding, ...]
    failures: tuple[str, ...] = ()


def held_matches(rule: RuleSpec, matches: Sequence[Match]) -> tuple[Match, ...]:
    """The current matches a hold applies to (only as-needed ones when the class says so).

    Never a substance (cocaine, alcohol): there is no dose to hold, only recent use to ask about.
    """
    current = tuple(m for m in matches if not m.within_washout and not m.member.substance)
    if rule.hold is not None and rule.hold.applies_to == "as-needed":
        return tuple(match for match in current if match.fact.as_needed)
    return current
