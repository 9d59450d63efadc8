"""The patient's conditions applied to the class cards (patient-context.yaml modifiers). Pure.

A modifier applies to a finding of one of its topics when a current record of its members is taken
for the condition (``indication``: the record's reasonCode / reasonReference) or the patient has it
on the problem list (``problem-list``; a record that states another indication is left alone). It
may remove the hold window, raise the indicator, replace the summary and adds its line to the card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from cds_service.clinical.conditions import (
    CodeSet,
    ConditionVocabulary,
    PatientContext,
    PressureRule,
    phrase_words,
)
from cds_service.clinical.lexicon import words_of
from cds_service.clinical.substances import (
    AlcoholVocabulary,
    SocialVocabulary,
    SubstanceVocabulary,
)
from cds_service.rules.findings import SEVERITY, Circumstance, Finding, Match
from cds_service.rules.schema import ConditionSet, Modifier, PatientContextRules, RuleSpec

_INDICATION = ""


def apply_modifiers(
    modifiers: Sequence[Modifier],
    findings: tuple[Finding, ...],
    patient: PatientContext,
    now: datetime,
) -> tuple[Finding, ...]:
    """Each finding with the circumstances that apply to it (unchanged when none do)."""
    if not modifiers or (not patient.conditions and not patient.indications):
        return findings
    return tuple(_modified(finding, modifiers, patient, now) for finding in findings)


def _modified(
    finding: Finding, modifiers: Sequence[Modifier], patient: PatientContext, now: datetime
) -> Finding:
    for modifier in modifiers:
        if finding.rule.id not in modifier.topics:
            continue
        where = _applies(modifier, _records(finding, modifier), patient, now)
        if where is not None:
            finding = _with(finding, modifier, where, patient)
    return finding


def _records(finding: Finding, modifier: Modifier) -> tuple[Match, ...]:
    wanted = modifier.members
    return tuple(m for m in finding.current_matches if not wanted or m.member.name in wanted)


def _applies(
    modifier: Modifier, records: Sequence[Match], patient: PatientContext, now: datetime
) -> str | None:
    if not records:
        return None
    if "indication" in modifier.via and any(
        patient.indicated(m.fact.reference, modifier.condition) for m in records
    ):
        return _INDICATION
    if "problem-list" not in modifier.via:
        return None
    if all(m.fact.reference in patient.indications for m in records):
        return None  # every record states its own indication: the problem list does not decide
    found = patient.has(modifier.condition, now)
    return found.display if found is not None else None


def _with(finding: Finding, modifier: Modifier, where: str, patient: PatientContext) -> Finding:
    codes = patient.vocabulary.sets.get(modifier.condition)
    title = codes.title if codes is not None else modifier.condition
    indicator = finding.indicator
    if modifier.indicator is not None and SEVERITY[modifier.indicator] > SEVERITY[indicator]:
        indicator = modifier.indicator
    circumstance = Circumstance(modifier, title, where or None)
    return replace(
        finding,
        indicator=indicator,
        hold=None if modifier.no_hold else finding.hold,
        circumstances=(*finding.circumstances, circumstance),
    )


# ---------------------------------------------------------------- compiled vocabularies


def condition_vocabulary(context: PatientContextRules | None) -> ConditionVocabulary:
    """The condition sets and reading rules the clinical readers match with."""
    if context is None:
        return ConditionVocabulary()
    readings = {
        item.id: PressureRule(
            item.reading.with_condition,
            item.reading.systolic_at_least,
            item.reading.diastolic_at_least,
            item.reading.within_days,
        )
        for item in context.conditions
        if item.reading is not None
    }
    return ConditionVocabulary({item.id: _code_set(item) for item in context.conditions}, readings)


def _code_set(item: ConditionSet) -> CodeSet:
    return CodeSet(
        id=item.id,
        title=item.title,
        snomed=frozenset(item.snomed),
        icd10=tuple(_plain(code) for code in item.icd),
        icd10_excluded=tuple(_plain(code) for code in item.icd_excluded),
        words=tuple(run for phrase in item.words if (run := phrase_words(phrase))),
        words_excluded=tuple(
            run for phrase in item.words_excluded if (run := phrase_words(phrase))
        ),
    )


def _plain(code: str) -> str:
    return code.upper().replace(".", "")


def substance_vocabulary(
    context: PatientContextRules | None, rules: Sequence[RuleSpec] = ()
) -> SubstanceVocabulary:
    """How drinking, social history and use disorders are read as substance facts; ``rules``
    name the substance members (street drugs) whose denied use is not a fact."""
    if context is None:
        return SubstanceVocabulary()
    alcohol, social = context.alcohol, context.social_history
    return SubstanceVocabulary(
        alcohol=AlcoholVocabulary(
            ingredient=alcohol.ingredient,
            words=frozenset(w for word in alcohol.words for w in words_of(word)),
            phrases=_runs(alcohol.phrases),
            not_intake=_runs(alcohol.not_intake),
            negations=frozenset(w for word in alcohol.negations for w in words_of(word)),
            heavy_words=frozenset(w for word in alcohol.heavy_words for w in words_of(word)),
            heavy_per_day=alcohol.heavy_drinks_per_day,
        ),
        social=SocialVocabulary(
            drinks_per_day=frozenset(social.drinks_per_day),
            alcohol_use=frozenset(social.alcohol_use),
            audit_c=frozenset(social.audit_c),
            drug_use=frozenset(social.drug_use),
            drinker_codes=frozenset(social.drinker_codes),
            heavy_codes=frozenset(social.heavy_codes),
            audit_c_use_at=social.audit_c_use_at,
            audit_c_heavy_at=social.audit_c_heavy_at,
            within_days=social.within_days,
        ),
        disorders=tuple((d.condition, d.ingredient, d.heavy) for d in context.disorders),
        street=frozenset(m.name for rule in rules for m in rule.members if m.substance),
    )


def _runs(phrases: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(run for phrase in phrases if (run := words_of(phrase)))
