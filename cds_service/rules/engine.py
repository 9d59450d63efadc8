"""Rule engine: which interacting classes the patient's medications hit, and how strongly. Pure.

Counting policy (CDS Hooks advisory cards err towards showing):
- ``active``, ``intended``, ``on-hold`` and an unknown or empty status count: a record whose status we
  cannot read is more likely a current medication than a historical one.
- ``entered-in-error``, ``not-taken``, ``cancelled`` and ``draft`` never count.
- ``stopped`` / ``completed`` count only while ``ended`` (or ``started`` when there is no end) lies
  within the class's washout before the infusion start (``now`` when the order gives no start); a
  washout of 0 days never counts them, nor does a stopped record with no date at all.
- A scheduled record stopped after long regular use counts inside the rule's ``withdrawal`` window
  (benzodiazepines: withdrawal seizures), even beyond the washout.
- A long-acting injectable (``MedicationFact.depot_days``: naltrexone ER, buprenorphine ER, depots)
  recorded as completed counts as current while its last injection still acts: it has not stopped.
- Durations ("taken for 60 days") are measured to the infusion start too, when it is known.

Dose equivalence (diazepam, oral morphine) lives in ``rules.equivalence``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from cds_service.clinical.conditions import NO_CONTEXT, PatientContext
from cds_service.clinical.types import (
    ENDED_STATUSES,
    Indicator,
    InfusionStart,
    KetamineOrder,
    MedicationFact,
    days_before_start,
)
from cds_service.rules.circumstances import apply_modifiers
from cds_service.rules.combinations import apply_combinations
from cds_service.rules.equivalence import assess_dose, equivalents
from cds_service.rules.findings import (
    SEVERITY,
    DoseAssessment,
    Evaluation,
    Finding,
    HoldWindow,
    Match,
    Variant,
    held_matches,
)
from cds_service.rules.knowledge import CompiledKnowledgeBase
from cds_service.rules.schema import Member, RuleSpec

COUNTED_STATUSES = frozenset({"active", "intended", "on-hold", "unknown", ""})
NEVER_COUNTED_STATUSES = frozenset({"entered-in-error", "not-taken", "cancelled", "draft"})
# Scheduled use for this long counts as regular (classes without a dose policy; BZD sets its own).
REGULAR_USE_DAYS = 14


def evaluate(
    kb: CompiledKnowledgeBase,
    facts: Sequence[MedicationFact],
    order: KetamineOrder,
    *,
    hook: str,
    now: datetime,
    patient: PatientContext = NO_CONTEXT,
) -> Evaluation:
    """One Finding per active class present; a rule that raises is reported, never fatal.

    ``hook`` is the rule hook (a legacy hook is mapped onto its current one by the hook registry).
    ``patient`` holds the Conditions and readings that change a card (``rules.circumstances``).
    """
    findings, failures = _class_findings(kb, kb.interaction_rules, facts, order, hook, now)
    try:
        modified = apply_modifiers(kb.modifiers, tuple(findings), patient, now)
    except Exception as exc:  # the class cards still go out, unmodified; the failure is reported
        failures.append(f"CONDITIONS: {type(exc).__name__}")
        modified = tuple(findings)
    try:
        combined = apply_combinations(kb.combinations, modified)
    except Exception as exc:  # the class cards still go out; the failure is reported
        failures.append(f"COMBINATIONS: {type(exc).__name__}")
        combined = modified
    return Evaluation(findings=combined, failures=tuple(failures))


def evaluate_shadow(
    kb: CompiledKnowledgeBase,
    facts: Sequence[MedicationFact],
    order: KetamineOrder,
    *,
    hook: str,
    now: datetime,
) -> Evaluation:
    """What the shadow rules would have found (no combinations): audited, never rendered."""
    findings, failures = _class_findings(kb, kb.shadow_rules, facts, order, hook, now)
    return Evaluation(findings=tuple(findings), failures=tuple(failures))


def _class_findings(
    kb: CompiledKnowledgeBase,
    rules: Sequence[RuleSpec],
    facts: Sequence[MedicationFact],
    order: KetamineOrder,
    hook: str,
    now: datetime,
) -> tuple[list[Finding], list[str]]:
    """Each rule's finding over its class's records; a rule that raises is reported, never fatal."""
    findings: list[Finding] = []
    failures: list[str] = []
    candidates = _candidates(kb, facts)
    for rule in rules:
        mine = facts if candidates is None else candidates.get(rule.id, ())
        if not mine:  # no record names a member of this class: nothing can match (most classes)
            continue
        try:
            finding = _evaluate_rule(rule, kb.members(rule.id), mine, order, hook, now)
        except Exception as exc:  # one broken rule must not silence the others
            # The exception's type only: its message may quote a medication record.
            failures.append(f"{rule.id}: {type(exc).__name__}")
            continue
        if finding is not None:
            findings.append(finding)
    return findings, failures


def _candidates(
    kb: CompiledKnowledgeBase, facts: Sequence[MedicationFact]
) -> dict[str, list[MedicationFact]] | None:
    """Each class's records; None when a record cannot be indexed, so that every rule judges the
    whole list and fails or not on its own (reported per rule, never fatal)."""
    try:
        return kb.candidates(facts)
    except Exception:
        return None


def _evaluate_rule(
    rule: RuleSpec,
    members: Mapping[str, Member],
    facts: Sequence[MedicationFact],
    order: KetamineOrder,
    hook: str,
    now: datetime,
) -> Finding | None:
    if hook not in rule.hooks:
        return None
    matches = match_rule(rule, members, facts, now, order.start)
    if not matches:
        return None
    dose = assess_dose(rule, matches)
    variant = choose_variant(rule, matches, dose)
    return Finding(
        rule=rule,
        matches=matches,
        indicator=choose_indicator(rule, matches, variant, dose),
        variant=variant,
        hold=hold_window(rule, matches, order),
        dose=dose,
    )


def match_rule(
    rule: RuleSpec,
    members: Mapping[str, Member],
    facts: Sequence[MedicationFact],
    now: datetime,
    start: InfusionStart | None = None,
) -> tuple[Match, ...]:
    """Every (record, member) pair of this class that counts at the infusion start (else ``now``)."""
    matches: list[Match] = []
    for fact in facts:
        names = fact.ingredients & members.keys()
        if not names:  # most records belong to no member of this class: nothing else to judge
            continue
        counted = counts(fact, rule.washout_days, now, start)
        withdrawal = counted != "current" and withdrawal_risk(rule, fact, now, start)
        if counted is None and not withdrawal:
            continue
        for name in sorted(names):
            match = _match(fact, members[name], counted != "current", now, start)
            matches.append(replace(match, withdrawal=withdrawal) if withdrawal else match)
    return tuple(matches)


def withdrawal_risk(
    rule: RuleSpec, fact: MedicationFact, now: datetime, start: InfusionStart | None
) -> bool:
    """A scheduled record stopped after long regular use, inside the rule's withdrawal window."""
    risk = rule.withdrawal
    if risk is None or fact.as_needed or fact.status.strip().lower() not in ENDED_STATUSES:
        return False
    taken = days_taken(fact, now, start)
    if fact.ended is None or taken is None or taken < risk.after_days:
        return False
    return days_before_start(fact.ended, start, now) <= risk.within_days


def counts(
    fact: MedicationFact, washout_days: int, now: datetime, start: InfusionStart | None = None
) -> Literal["current", "washout"] | None:
    """Whether a record counts: as a current medication, only inside the washout, or not at all."""
    status = fact.status.strip().lower()
    if status in NEVER_COUNTED_STATUSES:
        return None
    if status not in ENDED_STATUSES:
        return "current"
    last = fact.ended or fact.started
    if depot_acting(fact, now, start):
        return "current"  # a completed long-acting injection still acts: never "stopped"
    if washout_days <= 0 or last is None:
        return None
    return "washout" if days_before_start(last, start, now) <= washout_days else None


def depot_acting(fact: MedicationFact, now: datetime, start: InfusionStart | None) -> bool:
    """Whether a long-acting injection's last dose still acts at the infusion (else ``now``)."""
    last = fact.ended or fact.started
    if fact.depot_days is None or last is None:
        return False
    return days_before_start(last, start, now) <= fact.depot_days


def _match(
    fact: MedicationFact,
    member: Member,
    within_washout: bool,
    now: datetime,
    start: InfusionStart | None,
) -> Match:
    usual, maximum = equivalents(member, fact)
    return Match(
        fact=fact,
        member=member,
        within_washout=within_washout,
        equivalent_per_day=usual,
        days_taken=days_taken(fact, now, start),
        equivalent_max_per_day=maximum,
    )


def days_taken(fact: MedicationFact, now: datetime, start: InfusionStart | None) -> int | None:
    """Whole days from the first dose to the infusion start (else ``now``), or to the stop if earlier."""
    if fact.started is None:
        return None
    total = days_before_start(fact.started, start, now)
    if fact.ended is not None:
        total -= max(days_before_start(fact.ended, start, now), 0.0)
    return max(int(total), 0)


# ---------------------------------------------------------------- dose, variant, indicator, hold


def choose_variant(
    rule: RuleSpec, matches: Sequence[Match], dose: DoseAssessment | None
) -> Variant:
    """light: as-needed use only; strong: regular daily use or a high scheduled dose.

    As-needed use is never called regular, whatever its dose: a high as-needed dose raises the
    indicator instead (``choose_indicator``). Classes without a dose policy take their strong wording
    (continue, never stop abruptly) when a scheduled record has been taken for REGULAR_USE_DAYS or
    more. For dosed classes, scheduled use of unknown duration also gets the strong wording: when we
    cannot tell, the careful advice is the safe one.
    """
    current = [match for match in matches if not match.within_washout]
    all_as_needed = bool(current) and all(match.fact.as_needed for match in current)
    if all_as_needed:
        return "light"
    if rule.dose_policy is None or dose is None:
        regular = _regularly_taken(current, REGULAR_USE_DAYS)
        return "strong" if rule.summary.strong and regular else "default"
    if dose.regular_daily_use or dose.high_dose:
        return "strong"
    if dose.longest_days_taken is None:
        return "strong"
    return "default"


def _regularly_taken(matches: Sequence[Match], days: int) -> bool:
    return any(not m.fact.as_needed and (m.days_taken or 0) >= days for m in matches)


def choose_indicator(
    rule: RuleSpec,
    matches: Sequence[Match],
    variant: Variant,
    dose: DoseAssessment | None = None,
) -> Indicator:
    """Class default, lowered for low-dose as-needed use, raised by any member's own escalation."""
    indicator: Indicator = rule.indicator.default
    high = dose is not None and dose.high_dose
    if variant == "light" and rule.indicator.as_needed is not None and not high:
        indicator = rule.indicator.as_needed
    escalations = [match.member.indicator for match in matches]
    if rule.withdrawal is not None and any(match.withdrawal for match in matches):
        escalations.append(rule.withdrawal.indicator)
    for escalation in escalations:
        if escalation is not None and SEVERITY[escalation] > SEVERITY[indicator]:
            indicator = escalation
    return indicator


def hold_window(
    rule: RuleSpec, matches: Sequence[Match], order: KetamineOrder
) -> HoldWindow | None:
    """The hold around the infusion, if the class has one and a current record it applies to."""
    hold = rule.hold
    if hold is None or hold.before_hours <= 0:
        return None
    applicable = held_matches(rule, matches)
    if not applicable:
        return None
    # Clock times only from a known instant: a date-only start keeps the hold relative.
    start = order.start.at if order.start is not None else None
    resume = hold.resume_after_hours
    return HoldWindow(
        before_hours=hold.before_hours,
        resume_after_hours=resume,
        hold_from=start - timedelta(hours=hold.before_hours) if start else None,
        resume_after=start + timedelta(hours=resume) if start and resume is not None else None,
        as_needed_only=hold.applies_to == "as-needed",
    )
