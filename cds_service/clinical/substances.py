"""Substance use as medication facts: alcohol in medication lists, social history, use disorders. Pure.

The lexicon leaves out the bare word "alcohol" (benzyl, isopropyl and cetyl alcohol are in product
names), so alcohol is read here: a medication record whose text names drinking ("Alcohol - 4 to 6
beers daily") and none of the product phrases ("alcohol swab", "alcohol-free") becomes an ethanol
fact; so do social-history Observations (drinks per day, AUDIT-C, other drug use) and active
substance-use Conditions. Heavy use (the knowledge base's thresholds) is marked on the fact: the
combined respiratory risk counts only heavy drinking. Texts are read, never logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cds_service.clinical.conditions import PatientContext
from cds_service.clinical.fhirjson import (
    as_dict,
    as_list,
    as_str,
    codings,
    local_reference,
    parse_instant,
)
from cds_service.clinical.freetext import is_free_text
from cds_service.clinical.lexicon import TEXT_MEMO_SIZE, Lexicon, words_of
from cds_service.clinical.types import JsonObject, MedicationFact, Origin, SourcedResource

_NUMBER = re.compile(r"(\d+(?:\.\d+)?)(?:\s*(?:-|\u2013|to)\s*(\d+(?:\.\d+)?))?")
_DAILY = re.compile(
    r"\b(daily|a day|per day|each day|every day|/ ?day|nightly|a night|per night)\b"
)
_WEEKLY = re.compile(r"\b(weekly|a week|per week|each week|/ ?week|/ ?wk)\b")
_MEDICATION_TYPES = frozenset({"MedicationStatement", "MedicationRequest", "MedicationOrder"})
_UNUSABLE = frozenset({"entered-in-error", "cancelled", "not-taken"})
# A negation followed by one of these states a limit ("no more than", "not over"), not abstinence.
_LIMIT_NEXT = frozenset({("more",), ("over",), ("greater",), ("later",), ("longer",), ("less",)})


@dataclass(frozen=True, slots=True)
class Drinking:
    """What a text says about drinking: how much a day when it says so, and whether it is heavy."""

    per_day: float | None
    heavy: bool


@dataclass(frozen=True, slots=True)
class AlcoholVocabulary:
    """The knowledge base's words for drinking, the product phrases that are not, and thresholds."""

    ingredient: str = "ethanol"
    words: frozenset[str] = frozenset()
    phrases: tuple[tuple[str, ...], ...] = ()
    not_intake: tuple[tuple[str, ...], ...] = ()
    negations: frozenset[str] = frozenset()
    heavy_words: frozenset[str] = frozenset()
    heavy_per_day: float = 4.0
    _starts: frozenset[str] = field(init=False, repr=False, compare=False)
    _memo: dict[str, Drinking | None] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = self.words | {phrase[0] for phrase in self.phrases if phrase}
        object.__setattr__(self, "_starts", frozenset(starts))

    def reads(self, text: str) -> Drinking | None:
        """Drinking named in ``text``; None for product alcohol, a negation, or no drinking.

        Memoised like the lexicon's look-ups: a pure function of the text, bounded, in process
        memory only, never logged.
        """
        memo = self._memo
        if text in memo:
            return memo[text]
        if len(memo) >= TEXT_MEMO_SIZE:
            memo.clear()
        found = memo[text] = self._read(text)
        return found

    def _read(self, text: str) -> Drinking | None:
        words = words_of(text)
        if self._starts.isdisjoint(words):  # most records name no drink: one set test
            return None
        if not self.words.intersection(words) and not _any_run(words, self.phrases):
            return None
        if _any_run(words, self.not_intake) or _negated(words, self.negations):
            return None
        per_day = drinks_per_day(text)
        heavy = bool(self.heavy_words.intersection(words))
        return Drinking(per_day, heavy or (per_day is not None and per_day >= self.heavy_per_day))


@dataclass(frozen=True, slots=True)
class SocialVocabulary:
    """Which social-history Observation codes say what, and the AUDIT-C levels."""

    drinks_per_day: frozenset[str] = frozenset()
    alcohol_use: frozenset[str] = frozenset()
    audit_c: frozenset[str] = frozenset()
    drug_use: frozenset[str] = frozenset()
    drinker_codes: frozenset[str] = frozenset()  # value codes: a current drinker
    heavy_codes: frozenset[str] = frozenset()  # value codes: a heavy drinker
    audit_c_use_at: float = 3
    audit_c_heavy_at: float = 8
    within_days: int = 365


@dataclass(frozen=True, slots=True)
class SubstanceVocabulary:
    """Everything this module reads substance use with."""

    alcohol: AlcoholVocabulary = field(default_factory=AlcoholVocabulary)
    social: SocialVocabulary = field(default_factory=SocialVocabulary)
    # (condition set id, ingredient it is read as, heavy): active use disorders
    disorders: tuple[tuple[str, str, bool], ...] = ()
    # The classes' substance members (street drugs, cannabis, kratom): a free-text entry naming
    # only these is dropped when its name denies use ("Denies cocaine", "THC-free CBD oil").
    street: frozenset[str] = frozenset()


def drinks_per_day(text: str) -> float | None:
    """Drinks a day a text states ("4 to 6 beers daily" -> 6; "14 a week" -> 2), else None."""
    lowered = text.lower()
    numbers = [float(b or a) for a, b in _NUMBER.findall(lowered)]
    numbers = [n for n in numbers if 0 <= n <= 100]
    if not numbers:
        return None
    if _DAILY.search(lowered):
        return max(numbers)
    if _WEEKLY.search(lowered):
        return round(max(numbers) / 7, 1)
    return None


def substance_facts(
    records: Sequence[SourcedResource],
    known: Iterable[MedicationFact],
    observations: Sequence[SourcedResource],
    patient: PatientContext,
    vocabulary: SubstanceVocabulary,
    lexicon: Lexicon,
    now: datetime,
    only: Iterable[int] | None = None,
) -> tuple[MedicationFact, ...]:
    """Facts for substance use the medication normaliser does not produce (``known`` are its).

    ``only``: the positions of the records that can name drinking (the uncoded ones, as the
    normaliser found them); all of them when not given."""
    seen = {fact.reference for fact in known}
    facts = [
        fact
        for index in (range(len(records)) if only is None else only)
        if (fact := _alcohol_record(records[index], index, vocabulary.alcohol, seen)) is not None
    ]
    for index, sourced in enumerate(observations):
        facts.extend(_observation_facts(sourced, index, vocabulary, lexicon, now))
    facts.extend(_disorder_facts(patient, vocabulary))
    return tuple(facts)


def without_denied_use(
    facts: Sequence[MedicationFact],
    records: Sequence[SourcedResource],
    vocabulary: SubstanceVocabulary,
    only: Iterable[int] | None = None,
) -> tuple[MedicationFact, ...]:
    """The facts less free-text substance entries whose name denies use: "No cocaine", "Marijuana -
    quit 2019", "THC-free CBD oil" (the alcohol reader's negations, and "free").

    ``only``: the positions of the uncoded records (the others cannot deny use); all when not given."""
    if not vocabulary.street or not facts:
        return tuple(facts)
    denied = vocabulary.alcohol.negations | {"free"}
    denying = {
        local_reference(as_str(resource.get("resourceType")), resource.get("id"), index)
        for index in (range(len(records)) if only is None else only)
        if isinstance(resource := records[index].resource, dict) and _denies_use(resource, denied)
    }
    return tuple(
        fact
        for fact in facts
        if fact.reference not in denying or not fact.ingredients <= vocabulary.street
    )


def _denies_use(resource: JsonObject, denied: frozenset[str]) -> bool:
    """Whether a free-text entry's name says the substance is not used."""
    concept = as_dict(resource.get("medicationCodeableConcept"))
    if not concept or not is_free_text((concept,)):
        return False
    texts = [as_str(concept.get("text")), *_displays(concept)]
    return _negated(words_of(" ; ".join(texts)), denied)


def _alcohol_record(
    sourced: SourcedResource, index: int, alcohol: AlcoholVocabulary, seen: set[str]
) -> MedicationFact | None:
    resource = as_dict(sourced.resource)
    kind = as_str(resource.get("resourceType"))
    if kind not in _MEDICATION_TYPES or not alcohol.words:
        return None
    concept = as_dict(resource.get("medicationCodeableConcept"))
    # A coded record is a drug (coded ethanol is the lexicon's); drinking is written as free text.
    if not is_free_text((concept,)):
        return None
    reference = local_reference(kind, resource.get("id"), index)
    if reference in seen:  # the normaliser read it already (an interacting drug)
        return None
    texts = [t for t in (as_str(concept.get("text")), *_displays(concept)) if t]
    # The entry's name must say drinking ("Avoid alcohol" in a dose text is an instruction); the
    # dose text may then say how much ("Wine", "5 glasses nightly").
    if not texts or alcohol.reads(" ; ".join(texts)) is None:
        return None
    doses = [as_str(as_dict(d).get("text")) for d in _dosages(resource)]
    drinking = alcohol.reads(" ; ".join([*texts, *doses]))
    if drinking is None:
        return None
    return _fact(sourced, reference, texts[0], alcohol.ingredient, drinking)


def _observation_facts(
    sourced: SourcedResource,
    index: int,
    vocabulary: SubstanceVocabulary,
    lexicon: Lexicon,
    now: datetime,
) -> list[MedicationFact]:
    observation = as_dict(sourced.resource)
    social = vocabulary.social
    when = _effective(observation)
    if as_str(observation.get("status")).lower() in _UNUSABLE or not _recent(when, social, now):
        return []
    codes = {as_str(c.get("code")) for c in codings(observation.get("code"))}
    label = _observation_label(observation)
    reference = local_reference("Observation", observation.get("id"), index)
    if codes & social.drug_use:
        return _drug_use(sourced, reference, label, vocabulary, lexicon)
    drinking = _drinking(observation, codes, vocabulary)
    if drinking is None:
        return []
    return [_fact(sourced, reference, label, vocabulary.alcohol.ingredient, drinking)]


def _drinking(
    observation: JsonObject, codes: set[str], vocabulary: SubstanceVocabulary
) -> Drinking | None:
    social, alcohol = vocabulary.social, vocabulary.alcohol
    value = _number(observation)
    if codes & social.drinks_per_day and value is not None:
        return Drinking(value, value >= alcohol.heavy_per_day) if value > 0 else None
    if codes & social.audit_c and value is not None:
        return (
            Drinking(None, value >= social.audit_c_heavy_at)
            if value >= social.audit_c_use_at
            else None
        )
    if codes & social.alcohol_use:
        values = {as_str(c.get("code")) for c in codings(observation.get("valueCodeableConcept"))}
        if values & (social.drinker_codes | social.heavy_codes):
            return Drinking(None, bool(values & social.heavy_codes))
        return (
            alcohol.reads(f"alcohol {_value_text(observation)}")
            if _value_text(observation)
            else None
        )
    return None


def _drug_use(
    sourced: SourcedResource,
    reference: str,
    label: str,
    vocabulary: SubstanceVocabulary,
    lexicon: Lexicon,
) -> list[MedicationFact]:
    text = _value_text(sourced.resource)
    if not text or _negated(words_of(text), vocabulary.alcohol.negations):
        return []
    ingredients = lexicon.ingredients_in_text(text)
    if not ingredients:
        return []
    return [
        _fact(sourced, reference, label, name, Drinking(None, False))
        for name in sorted(ingredients)
    ]


def _disorder_facts(
    patient: PatientContext, vocabulary: SubstanceVocabulary
) -> list[MedicationFact]:
    facts: list[MedicationFact] = []
    for condition in patient.conditions:
        for set_id, ingredient, heavy in vocabulary.disorders:
            if set_id in condition.sets:
                sourced = SourcedResource({}, Origin.PREFETCH, "conditions")
                display = f"{condition.display} (problem list)"
                facts.append(
                    _fact(sourced, condition.reference, display, ingredient, Drinking(None, heavy))
                )
    return facts


def _fact(
    sourced: SourcedResource, reference: str, display: str, ingredient: str, drinking: Drinking
) -> MedicationFact:
    resource = as_dict(sourced.resource)
    period = as_dict(resource.get("effectivePeriod"))
    per_day = drinking.per_day
    return MedicationFact(
        reference=reference,
        resource_type=reference.split("/", 1)[0],
        display=display,
        ingredients=frozenset((ingredient,)),
        status=as_str(resource.get("status")).lower() if reference.startswith("Medication") else "",
        as_needed=False,
        reported=True,
        started=_effective(resource),
        ended=parse_instant(period.get("end")),
        daily_mg={},
        dose_text=f"about {per_day:g} drinks a day" if per_day else None,
        origin=sourced.origin,
        source_key=sourced.source_key,
        heavy_use=drinking.heavy,
    )


def _effective(resource: Any) -> datetime | None:
    resource = as_dict(resource)
    period = as_dict(resource.get("effectivePeriod"))
    return parse_instant(resource.get("effectiveDateTime")) or parse_instant(period.get("start"))


def _recent(when: datetime | None, social: SocialVocabulary, now: datetime) -> bool:
    return when is None or when >= now - timedelta(days=social.within_days)


def _number(observation: JsonObject) -> float | None:
    value = as_dict(observation.get("valueQuantity")).get("value", observation.get("valueInteger"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _value_text(resource: Any) -> str:
    resource = as_dict(resource)
    concept = as_dict(resource.get("valueCodeableConcept"))
    texts = [as_str(resource.get("valueString")), as_str(concept.get("text")), *_displays(concept)]
    return " ; ".join(text for text in texts if text)


def _observation_label(observation: JsonObject) -> str:
    concept = as_dict(observation.get("code"))
    name = as_str(concept.get("text")) or next(iter(_displays(concept)), "Social history")
    value = _number(observation)
    shown = f"{value:g}" if value is not None else _value_text(observation)
    return f"{name}: {shown}" if shown else name


def _displays(concept: Any) -> list[str]:
    return [d for c in codings(concept) if (d := as_str(c.get("display")))]


def _dosages(resource: JsonObject) -> list[Any]:
    return as_list(resource.get("dosage")) + as_list(resource.get("dosageInstruction"))


def _negated(words: tuple[str, ...], negations: frozenset[str]) -> bool:
    """Whether a negation word is in ``words``, a limit left aside: "no more than 2 glasses" is
    an amount of drinking, not a denial of it."""
    return any(
        word in negations and words[i + 1 : i + 2] not in _LIMIT_NEXT
        for i, word in enumerate(words)
    )


def _any_run(words: tuple[str, ...], runs: Iterable[tuple[str, ...]]) -> bool:
    return any(
        words[i : i + len(run)] == run for run in runs for i in range(len(words) - len(run) + 1)
    )
