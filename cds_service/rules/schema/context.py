"""``cards/patient-context.yaml``: substance use and the conditions that change a class's card.

What counts as drinking in a medication list and which product phrases do not; which
social-history Observations say what; named sets of condition codes (SNOMED CT, ICD-10); which
active use disorders read as use of a substance; and the modifiers: a class (or some of its
members) whose card changes when a condition applies, through the record's own indication or the
patient's problem list. The HL7 PDDI CDS IG calls these context-dependent tiers.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from cds_service.rules.schema.common import (
    INGREDIENT_PATTERN,
    TOPIC_PATTERN,
    Evidence,
    FieldProblem,
    Indicator,
    Strict,
)

SET_PATTERN = r"^[a-z][a-z0-9-]{1,40}$"
Via = Literal["indication", "problem-list"]


class Alcohol(Strict):
    """How drinking is recognised in a medication record's text."""

    ingredient: str = Field(
        pattern=INGREDIENT_PATTERN, description="The member an alcohol record is read as (ethanol)."
    )
    words: tuple[str, ...] = Field(
        min_length=1, description='Single words that name drinking ("alcohol", "beer", "etoh").'
    )
    phrases: tuple[str, ...] = Field(
        default=(), description='Phrases that name drinking ("drinks per day").'
    )
    not_intake: tuple[str, ...] = Field(
        default=(),
        description='Phrases that make a text product alcohol, never drinking ("benzyl alcohol", '
        '"alcohol swab", "alcohol free"); compared as whole words.',
    )
    negations: tuple[str, ...] = Field(
        default=(), description='Words that make a text say no drinking ("denies", "none").'
    )
    heavy_words: tuple[str, ...] = Field(
        default=(), description='Words that make drinking heavy ("heavy", "binge").'
    )
    heavy_drinks_per_day: float = Field(
        gt=0, le=50, description="Drinks a day at or above which drinking is heavy."
    )


class SocialHistory(Strict):
    """Which social-history Observations (LOINC) say what about substance use."""

    drinks_per_day: tuple[str, ...] = Field(
        default=(), description="LOINC codes whose valueQuantity is drinks per day (74013-4)."
    )
    alcohol_use: tuple[str, ...] = Field(
        default=(),
        description="LOINC codes whose value says whether the patient drinks (11331-6); value "
        "codes below, else the value text read as a medication text is.",
    )
    audit_c: tuple[str, ...] = Field(
        default=(), description="LOINC codes of the AUDIT-C total score (75626-2)."
    )
    drug_use: tuple[str, ...] = Field(
        default=(),
        description="LOINC codes whose value text names other drugs used (11343-1), read with the "
        "medication lexicon.",
    )
    drinker_codes: tuple[str, ...] = Field(
        default=(), description="SNOMED CT value codes that mean a current drinker."
    )
    heavy_codes: tuple[str, ...] = Field(
        default=(), description="SNOMED CT value codes that mean a heavy drinker."
    )
    audit_c_use_at: int = Field(ge=1, le=12, description="AUDIT-C score read as drinking.")
    audit_c_heavy_at: int = Field(ge=1, le=12, description="AUDIT-C score read as heavy drinking.")
    within_days: int = Field(
        ge=1, le=3650, description="Observations older than this (before the call) are ignored."
    )


class Reading(Strict):
    """A condition a recent blood-pressure reading completes (uncontrolled hypertension)."""

    with_condition: str = Field(
        pattern=SET_PATTERN, description="The condition set the patient must also have."
    )
    systolic_at_least: int = Field(ge=90, le=260, description="Systolic mmHg threshold.")
    diastolic_at_least: int = Field(ge=50, le=160, description="Diastolic mmHg threshold.")
    within_days: int = Field(ge=1, le=365, description="How recent the reading must be.")


class ConditionSet(Strict):
    """A named set of condition codes."""

    id: str = Field(pattern=SET_PATTERN, description="The set's id, used by modifiers.")
    title: str = Field(min_length=3, description='How a card names it ("epilepsy").')
    snomed: tuple[str, ...] = Field(default=(), description="SNOMED CT concept codes.")
    icd: tuple[str, ...] = Field(
        default=(), description='ICD-10 / ICD-10-CM codes or prefixes ("G40" matches G40.909).'
    )
    icd_excluded: tuple[str, ...] = Field(
        default=(), description='Codes or prefixes left out (remission: "F10.21").'
    )
    words: tuple[str, ...] = Field(
        default=(), description="Phrases that match an uncoded Condition's text."
    )
    words_excluded: tuple[str, ...] = Field(
        default=(),
        description="Phrases that name another condition with one of the words inside: a word "
        'inside one does not match ("febrile seizure" is not epilepsy), unless "and", "or" or "/" '
        'joins the phrase to another modifier of the same noun ("Absence and febrile seizures").',
    )
    reading: Reading | None = Field(
        default=None,
        description="Also present when the patient has with_condition and a recent reading at "
        "or above the thresholds.",
    )
    note: str | None = Field(default=None, description="Where the codes come from.")


class Disorder(Strict):
    """An active use disorder read as current use of a substance."""

    condition: str = Field(pattern=SET_PATTERN, description="The condition set.")
    ingredient: str = Field(pattern=INGREDIENT_PATTERN, description="The member it reads as.")
    heavy: bool = Field(default=False, description="Read as heavy use (alcohol use disorder).")


class Modifier(Strict):
    """A condition that changes a class's card."""

    id: str = Field(pattern=r"^[A-Z][A-Z0-9-]{2,40}$", description="Stable id, shown nowhere.")
    condition: str = Field(pattern=SET_PATTERN, description="The condition set.")
    via: tuple[Via, ...] = Field(
        min_length=1,
        description="indication: the record's own reasonCode or reasonReference; problem-list: "
        "any active Condition of the patient.",
    )
    topics: tuple[str, ...] = Field(min_length=1, description="The classes it changes.")
    members: tuple[str, ...] = Field(
        default=(), description="Only these members' records (empty: every member)."
    )
    no_hold: bool = Field(default=False, description="Removes the hold window and its suggestion.")
    indicator: Indicator | None = Field(default=None, description="Raises the card's indicator.")
    summary: str | None = Field(
        default=None,
        max_length=139,
        description="Replaces the summary; placeholders {drugs} and {condition}.",
    )
    note: str = Field(min_length=10, description="The card's line saying what changed and why.")
    actions: tuple[str, ...] = Field(
        default=(), max_length=2, description="Replace the concise card's actions."
    )
    evidence: Evidence = Field(description="Why the condition changes the advice.")

    @model_validator(mode="after")
    def _topics_are_codes(self) -> Modifier:
        for topic in self.topics:
            if not re.match(TOPIC_PATTERN, topic):
                raise FieldProblem("topics", f"{topic!r} is not a topic code")
        return self


class PatientContextRules(Strict):
    """``cards/patient-context.yaml``: substance use and the conditions that shape cards."""

    alcohol: Alcohol = Field(description="Drinking in medication lists.")
    social_history: SocialHistory = Field(description="Social-history Observations.")
    conditions: tuple[ConditionSet, ...] = Field(description="Named condition code sets.")
    disorders: tuple[Disorder, ...] = Field(
        default=(), description="Active use disorders read as use of a substance."
    )
    modifiers: tuple[Modifier, ...] = Field(
        default=(), description="Conditions that change a class's card, first match wins."
    )

    @model_validator(mode="after")
    def _sets_exist(self) -> PatientContextRules:
        known = {item.id for item in self.conditions}
        used = [("disorders", d.condition) for d in self.disorders]
        used += [("modifiers", m.condition) for m in self.modifiers]
        used += [("conditions", c.reading.with_condition) for c in self.conditions if c.reading]
        for where, name in used:
            if name not in known:
                raise FieldProblem(where, f"condition set {name!r} is not defined")
        return self
