"""Rule engine: which interacting classes the patient's medications hit, and how strongly. Pure.

Counting policy (CDS Hooks advisory cards err towards showing):
- ``active``, ``intended``, ``on-hold`` and an unknown or empty status count: a record whose status we
  cannot read is more likely a current medication than a historical one.
- ``entered-in-error``, ``not-taken``, ``cancelled`` and ``draft`` never count.
- ``stopped`` / ``completed`` count only while ``ended`` (or ``started`` when there is no end) lies
  within the class's washout before ``now``; a washout of 0 days never counts them, nor does a
  stopped record with no date at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from cds_service.clinical.types import ENDED_STATUSES, Indicator, KetamineOrder, MedicationFact, as_aware
from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.schema import Combination, Hold, Member, RuleSpec

Variant = Literal["default", "light", "strong"]

COUNTED_STATUSES = frozenset({"active", "intended", "on-hold", "unknown", ""})
NEVER_COUNTED_STATUSES = frozenset({"entered-in-error", "not-taken", "cancelled", "draft"})
SEVERITY: Mapping[str, int] = {"info": 0, "warning": 1, "critical": 2}
# CDS Hooks 1.0's medication-prescribe was replaced by order-select (a drug being chosen).
# Scheduled use for this long counts as regular (classes without a dose policy; BZD sets its own).
REGULAR_USE_DAYS = 14
LEGACY_HOOKS: Mapping[str, str] = {"medication-prescribe": "order-select"}


class RuleOverride(Protocol):
    """A site's changes to one class; ``settings.RuleOverride`` fits (the core never imports settings)."""

    @property
    def enabled(self) -> bool | None: ...
    @property
    def hold_before_hours(self) -> float | None: ...
    @property
    def resume_after_hours(self) -> float | None: ...
    @property
    def washout_days(self) -> int | None: ...
    @property
    def indicator(self) -> Indicator | None: ...
    @property
    def high_dose_mg_per_day(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """Per-site changes to the knowledge base's defaults (from ``Settings.rule_overrides``)."""

    overrides: Mapping[str, RuleOverride] = field(default_factory=dict)
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Match:
    """One medication record that belongs to a class, through one of its members."""

    fact: MedicationFact
    member: Member
    within_washout: bool  # counted only because it stopped within the class's washout
    diazepam_eq_mg_per_day: float | None
    days_taken: int | None


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
    """Benzodiazepine exposure: daily diazepam equivalents and how long it has been taken."""

    diazepam_eq_mg_per_day: float | None  # None: some regular dose is not coded, so not estimated
    high_dose_mg_per_day: float
    regular_use_days: int
    longest_days_taken: int | None
    regular_daily_use: bool
    all_as_needed: bool
    equivalence_table: str
    equivalence_url: str

    @property
    def high_dose(self) -> bool:
        """Above the threshold where attenuation was reported (about 8 mg/day by default)."""
        dose = self.diazepam_eq_mg_per_day
        return dose is not None and dose > self.high_dose_mg_per_day


@dataclass(frozen=True, slots=True)
class CombinationAlert:
    """A risky combination the patient is on, and which of its kinds of drug are present."""

    combination: Combination
    present: tuple[tuple[str, tuple[str, ...]], ...]  # (group name, the patient's ingredients)


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

    @property
    def current_matches(self) -> tuple[Match, ...]:
        """Matches the patient is taking now (not only inside a washout)."""
        return tuple(match for match in self.matches if not match.within_washout)


@dataclass(frozen=True, slots=True)
class Evaluation:
    findings: tuple[Finding, ...]
    failures: tuple[str, ...] = ()


# ---------------------------------------------------------------- site overrides


def effective_rule(rule: RuleSpec, policy: SitePolicy) -> RuleSpec:
    """The rule with the site's overrides applied; ``enabled: false`` makes it a draft (never fires)."""
    override = policy.overrides.get(rule.id)
    if override is None:
        return rule
    update: dict[str, object] = {}
    if override.enabled is False:
        update["status"] = "draft"
    if override.washout_days is not None:
        update["washout_days"] = override.washout_days
    hold = _overridden_hold(rule.hold, override)
    if hold is not rule.hold:
        update["hold"] = hold
    if override.indicator is not None:
        update["indicator"] = _overridden_indicator(rule, override.indicator)
    if override.high_dose_mg_per_day is not None and rule.dose_policy is not None:
        dose_policy = rule.dose_policy.model_copy(
            update={"high_dose_mg_per_day": override.high_dose_mg_per_day}
        )
        update["dose_policy"] = dose_policy
    return rule.model_copy(update=update)


def _overridden_hold(hold: Hold | None, override: RuleOverride) -> Hold | None:
    if override.hold_before_hours is None and override.resume_after_hours is None:
        return hold
    base = hold or Hold(before_hours=0)
    update: dict[str, object] = {}
    if override.hold_before_hours is not None:
        update["before_hours"] = override.hold_before_hours
    if override.resume_after_hours is not None:
        update["resume_after_hours"] = override.resume_after_hours
    return base.model_copy(update=update)


def _overridden_indicator(rule: RuleSpec, indicator: Indicator) -> object:
    # The as-needed indicator never ends up above the site's chosen default.
    as_needed = rule.indicator.as_needed
    if as_needed is not None and SEVERITY[as_needed] > SEVERITY[indicator]:
        as_needed = indicator
    return rule.indicator.model_copy(update={"default": indicator, "as_needed": as_needed})


# ---------------------------------------------------------------- evaluation


def evaluate(
    kb: KnowledgeBase,
    facts: Sequence[MedicationFact],
    order: KetamineOrder,
    *,
    hook: str,
    now: datetime,
    policy: SitePolicy,
) -> Evaluation:
    """One Finding per active class present; a rule that raises is reported, never fatal."""
    findings: list[Finding] = []
    failures: list[str] = []
    hook = LEGACY_HOOKS.get(hook, hook)
    for rule in kb.rules:
        try:
            finding = _evaluate_rule(effective_rule(rule, policy), facts, order, hook, now)
        except Exception as exc:  # one broken rule must not silence the others
            # The exception's type only: its message may quote a medication record.
            failures.append(f"{rule.id}: {type(exc).__name__}")
            continue
        if finding is not None:
            findings.append(finding)
    try:
        combined = apply_combinations(kb.manifest.combinations, tuple(findings), policy)
    except Exception as exc:  # the class cards still go out; the failure is reported
        failures.append(f"COMBINATIONS: {type(exc).__name__}")
        combined = tuple(findings)
    return Evaluation(findings=combined, failures=tuple(failures))


# ---------------------------------------------------------------- combinations


def apply_combinations(
    combinations: Sequence[Combination], findings: tuple[Finding, ...], policy: SitePolicy
) -> tuple[Finding, ...]:
    """Raise and annotate every finding that takes part in a combination the patient is on.

    Only current medications count (not those inside a washout): the risk is of taking them together.
    """
    for combination in combinations:
        override = policy.overrides.get(combination.id)
        if override is not None and override.enabled is False:
            continue
        present = _groups_present(combination, findings)
        if len(present) < combination.min_groups:
            continue
        alert = CombinationAlert(combination, tuple(present.items()))
        findings = tuple(
            _with_alert(finding, alert) if _takes_part(finding, combination) else finding
            for finding in findings
        )
    return findings


def _group_of(combination: Combination, topic: str, ingredient: str) -> str | None:
    for group in combination.groups:
        if topic in group.topics or ingredient in group.ingredients:
            return group.name
    return None


def _groups_present(
    combination: Combination, findings: Sequence[Finding]
) -> dict[str, tuple[str, ...]]:
    present: dict[str, dict[str, None]] = {}
    for finding in findings:
        for match in finding.current_matches:
            group = _group_of(combination, finding.rule.id, match.member.name)
            if group is not None:
                present.setdefault(group, {})[match.member.name] = None
    return {group: tuple(names) for group, names in present.items()}


def _takes_part(finding: Finding, combination: Combination) -> bool:
    return any(
        _group_of(combination, finding.rule.id, match.member.name) is not None
        for match in finding.current_matches
    )


def _with_alert(finding: Finding, alert: CombinationAlert) -> Finding:
    raised = alert.combination.indicator
    indicator = raised if SEVERITY[raised] > SEVERITY[finding.indicator] else finding.indicator
    return replace(finding, indicator=indicator, alerts=(*finding.alerts, alert))


def _evaluate_rule(
    rule: RuleSpec,
    facts: Sequence[MedicationFact],
    order: KetamineOrder,
    hook: str,
    now: datetime,
) -> Finding | None:
    if rule.status != "active" or rule.kind != "interaction" or hook not in rule.hooks:
        return None
    matches = match_rule(rule, facts, now)
    if not matches:
        return None
    dose = assess_dose(rule, matches)
    variant = choose_variant(rule, matches, dose)
    return Finding(
        rule=rule,
        matches=matches,
        indicator=choose_indicator(rule, matches, variant),
        variant=variant,
        hold=hold_window(rule, matches, order),
        dose=dose,
    )


def match_rule(rule: RuleSpec, facts: Sequence[MedicationFact], now: datetime) -> tuple[Match, ...]:
    """Every (record, member) pair of this class that counts at ``now``."""
    members = _members_by_name(rule.members)
    matches: list[Match] = []
    for fact in facts:
        counted = counts(fact, rule.washout_days, now)
        if counted is None:
            continue
        for name in sorted(fact.ingredients & members.keys()):
            matches.append(_match(fact, members[name], counted == "washout", now))
    return tuple(matches)


_MEMBER_INDEX: dict[int, tuple[tuple[Member, ...], Mapping[str, Member]]] = {}


def _members_by_name(members: tuple[Member, ...]) -> Mapping[str, Member]:
    # Rules are frozen and their member tuples outlive requests (site overrides copy the rule but
    # share the tuple), so the index is built once per tuple rather than once per call.
    cached = _MEMBER_INDEX.get(id(members))
    if cached is not None and cached[0] is members:
        return cached[1]
    index = {member.name: member for member in members}
    if len(_MEMBER_INDEX) > 256:
        _MEMBER_INDEX.clear()
    _MEMBER_INDEX[id(members)] = (members, index)
    return index


def counts(
    fact: MedicationFact, washout_days: int, now: datetime
) -> Literal["current", "washout"] | None:
    """Whether a record counts: as a current medication, only inside the washout, or not at all."""
    status = fact.status.strip().lower()
    if status in NEVER_COUNTED_STATUSES:
        return None
    if status not in ENDED_STATUSES:
        return "current"
    last = fact.ended or fact.started
    if washout_days <= 0 or last is None:
        return None
    return "washout" if as_aware(now) - as_aware(last) <= timedelta(days=washout_days) else None


def _match(fact: MedicationFact, member: Member, within_washout: bool, now: datetime) -> Match:
    daily = fact.daily_mg.get(member.name)
    factor = member.diazepam_mg_per_mg
    return Match(
        fact=fact,
        member=member,
        within_washout=within_washout,
        diazepam_eq_mg_per_day=daily * factor if daily is not None and factor else None,
        days_taken=_days_taken(fact, now),
    )


def _days_taken(fact: MedicationFact, now: datetime) -> int | None:
    if fact.started is None:
        return None
    end = min(as_aware(fact.ended), as_aware(now)) if fact.ended else as_aware(now)
    return max((end - as_aware(fact.started)).days, 0)


# ---------------------------------------------------------------- dose, variant, indicator, hold


def assess_dose(rule: RuleSpec, matches: Sequence[Match]) -> DoseAssessment | None:
    """Daily diazepam equivalents and duration over current matches; None for undosed classes.

    Records that count only inside a washout are left out: the dose describes current exposure.
    As-needed records without a coded dose are left out of the sum; a regular one makes it unknown.
    """
    policy = rule.dose_policy
    current = [match for match in matches if not match.within_washout]
    if policy is None or not current:
        return None
    regular = [match for match in current if not match.fact.as_needed]
    known = [m.diazepam_eq_mg_per_day for m in current if m.diazepam_eq_mg_per_day is not None]
    unknown = not known or any(m.diazepam_eq_mg_per_day is None for m in regular)
    days = [match.days_taken for match in current if match.days_taken is not None]
    return DoseAssessment(
        diazepam_eq_mg_per_day=None if unknown else round(sum(known), 2),
        high_dose_mg_per_day=policy.high_dose_mg_per_day,
        regular_use_days=policy.regular_use_days,
        longest_days_taken=max(days) if days else None,
        regular_daily_use=any((m.days_taken or 0) >= policy.regular_use_days for m in regular),
        all_as_needed=not regular,
        equivalence_table=policy.equivalence_table,
        equivalence_url=str(policy.equivalence_url),
    )


def choose_variant(
    rule: RuleSpec, matches: Sequence[Match], dose: DoseAssessment | None
) -> Variant:
    """light: as-needed (and low-dose) use; strong: regular daily use or a high dose.

    Classes without a dose policy take their strong wording (continue, never stop abruptly) when a
    scheduled record has been taken for REGULAR_USE_DAYS or more. For benzodiazepines, scheduled use of
    unknown duration also gets the strong wording: when we cannot tell, the careful advice is the safe one.
    """
    current = [match for match in matches if not match.within_washout]
    all_as_needed = bool(current) and all(match.fact.as_needed for match in current)
    if rule.dose_policy is None or dose is None:
        if all_as_needed:
            return "light"
        regular = _regularly_taken(current, REGULAR_USE_DAYS)
        return "strong" if rule.summary.strong and regular else "default"
    if dose.regular_daily_use or dose.high_dose:
        return "strong"
    if not dose.all_as_needed and dose.longest_days_taken is None:
        return "strong"
    # Unknown dose but every record is as needed: still the lighter card (the detail says unknown).
    return "light" if dose.all_as_needed else "default"


def _regularly_taken(matches: Sequence[Match], days: int) -> bool:
    return any(not m.fact.as_needed and (m.days_taken or 0) >= days for m in matches)


def choose_indicator(rule: RuleSpec, matches: Sequence[Match], variant: Variant) -> Indicator:
    """Class default, lowered for as-needed use, raised by any member's own escalation."""
    indicator: Indicator = rule.indicator.default
    if variant == "light" and rule.indicator.as_needed is not None:
        indicator = rule.indicator.as_needed
    for match in matches:
        escalation = match.member.indicator
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
    start = order.start
    resume = hold.resume_after_hours
    return HoldWindow(
        before_hours=hold.before_hours,
        resume_after_hours=resume,
        hold_from=start - timedelta(hours=hold.before_hours) if start else None,
        resume_after=start + timedelta(hours=resume) if start and resume is not None else None,
        as_needed_only=hold.applies_to == "as-needed",
    )


def held_matches(rule: RuleSpec, matches: Sequence[Match]) -> tuple[Match, ...]:
    """The current matches a hold applies to (only as-needed ones when the class says so)."""
    current = tuple(match for match in matches if not match.within_washout)
    if rule.hold is not None and rule.hold.applies_to == "as-needed":
        return tuple(match for match in current if match.fact.as_needed)
    return current
