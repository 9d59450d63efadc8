"""Dose equivalence per class: each member's factor to the class's reference drug, summed. Pure.

Benzodiazepines convert to diazepam (Ashton table), opioids to oral morphine (CDC 2022 MME table);
the table, its factors and the levels where the wording changes are data in the rule files. A dose
is never guessed: a regular record whose dose is not coded, or whose drug has no factor, makes the
daily figure unknown, and the card says why.
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.clinical.lexicon import words_of
from cds_service.clinical.types import MedicationFact
from cds_service.rules.findings import DoseAssessment, Match
from cds_service.rules.schema import Member, RuleSpec


def factor_for(member: Member, fact: MedicationFact) -> float | None:
    """The member's factor when it applies to this record's form (a patch factor needs a patch)."""
    factor = member.dose_factor
    if factor is None:
        return None
    if member.dose_factor_forms and set(words_of(fact.display)).isdisjoint(
        word for form in member.dose_factor_forms for word in words_of(form)
    ):
        return None
    return factor


def equivalents(member: Member, fact: MedicationFact) -> tuple[float | None, float | None]:
    """(usual, maximum) reference-drug units per day of one record, each None when unknown."""
    factor = factor_for(member, fact)
    if factor is None:
        return None, None
    if member.dose_factor_unit == "mcg/h":
        rate = fact.rate_mcg_per_hour
        return (rate * factor if rate is not None else None), None
    usual = fact.daily_mg.get(member.name)
    maximum = fact.max_daily_mg.get(member.name)
    return (
        usual * factor if usual is not None else None,
        maximum * factor if maximum is not None else None,
    )


def assess_dose(rule: RuleSpec, matches: Sequence[Match]) -> DoseAssessment | None:
    """The class's daily equivalent over current matches; None for classes without a dose model.

    Records counted only inside a washout are left out: the dose describes current exposure. An
    as-needed record adds one dose a day (its maximum is shown as a maximum); one without a coded
    dose is left out of the sum, while a regular one without a dose or a factor makes it unknown.
    """
    policy = rule.dose_policy
    current = [match for match in matches if not match.within_washout]
    if policy is None or not current:
        return None
    regular = [match for match in current if not match.fact.as_needed]
    known = [m.equivalent_per_day for m in current if m.equivalent_per_day is not None]
    unknown = not known or any(m.equivalent_per_day is None for m in regular)
    days = [match.days_taken for match in current if match.days_taken is not None]
    usual = None if unknown else round(sum(known), 2)
    return DoseAssessment(
        per_day=usual,
        high_dose_mg_per_day=policy.high_dose_mg_per_day,
        regular_use_days=policy.regular_use_days,
        longest_days_taken=max(days) if days else None,
        regular_daily_use=any((m.days_taken or 0) >= policy.regular_use_days for m in regular),
        all_as_needed=not regular,
        policy=policy,
        maximum_per_day=_maximum(current, usual),
        without_factor=tuple(
            dict.fromkeys(m.member.name for m in current if factor_for(m.member, m.fact) is None)
        ),
        counts_as_needed=bool(regular) and len(regular) < len(current) and usual is not None,
    )


def _maximum(current: Sequence[Match], usual: float | None) -> float | None:
    # The figure if every as-needed record were taken at its stated maximum; shown only above usual.
    if usual is None:
        return None
    total = 0.0
    for match in current:
        value = match.equivalent_max_per_day
        if match.fact.as_needed and value is not None:
            total += value
        elif match.equivalent_per_day is not None:
            total += match.equivalent_per_day
    return round(total, 2) if total > usual else None
