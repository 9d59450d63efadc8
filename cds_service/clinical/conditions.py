"""The patient's Conditions and blood pressure as the rules read them: coded sets, indications. Pure.

A Condition counts when it is active (clinicalStatus active, recurrence or relapse, or absent) and
not refuted or entered in error. A medication's indication is its own ``reasonCode`` or a
``reasonReference`` resolved against the patient's Conditions. Codes are matched by SNOMED CT code
or ICD-10 prefix ("F10" matches F10.20); an uncoded Condition matches by its words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from cds_service.clinical.fhirjson import (
    as_dict,
    as_list,
    as_str,
    codings,
    local_reference,
    parse_instant,
)
from cds_service.clinical.lexicon import SNOMED, code_system_kind, words_of
from cds_service.clinical.types import JsonObject

ICD10 = "icd10"
_ICD10_MARKERS = ("icd-10", "icd10", "2.16.840.1.113883.6.90", "2.16.840.1.113883.6.3")
_INACTIVE = frozenset({"inactive", "remission", "resolved"})
_NOT_TRUE = frozenset({"refuted", "entered-in-error"})
# An uncoded Condition's words are not the condition when one of these is up to three words before,
# in the same clause: "No febrile seizures; epilepsy since 2019" is epilepsy. "non" is not among them:
# it is a prefix, joined to its word ("non-motor seizures" are seizures; "non-epileptic seizures" are
# not epilepsy because the set excludes them by name).
_NEGATIONS = frozenset({"no", "not", "denies", "denied", "never", "without", "negative", "neither"})
_NEGATION_REACH = 3
# A clause ends at ; , ( ) [ ] and at a full stop before a capital, a digit or the end ("No hx. of
# seizures" is one clause); a colon does not end one ("Denies: seizures").
_CLAUSE_END = re.compile(r"[;,()\[\]]|\.(?=\s*(?:[A-Z0-9]|$))")
# "Afebrile/febrile seizures" is a list; "h/o seizures" (history of) is not.
_SLASHED_LIST = re.compile(r"(?<=[a-z]{2})/(?=[a-z]{2})", re.IGNORECASE)
_CONJUNCTIONS = frozenset({"and", "or", "nor"})
# Modifiers joined by these share the words after the last one: "Alcohol and opioid use disorder"
# names alcohol use disorder too. Not "nor": "Neither alcohol nor opioid use disorder" names neither.
_SHARING = frozenset({"and", "or"})
Via = Literal["indication", "problem-list"]


@dataclass(frozen=True, slots=True)
class CodeSet:
    """A named set of condition codes from the knowledge base (epilepsy, opioid use disorder)."""

    id: str
    title: str
    snomed: frozenset[str] = frozenset()
    icd10: tuple[str, ...] = ()  # prefixes, upper case, without the dot
    icd10_excluded: tuple[str, ...] = ()  # e.g. "in remission" codes
    words: tuple[tuple[str, ...], ...] = ()  # uncoded text: every run must appear in order
    # Runs that name another condition around one of the words ("febrile seizure").
    words_excluded: tuple[tuple[str, ...], ...] = ()

    def matches(self, concept: Any) -> bool:
        """Whether a CodeableConcept is in the set (by code, else by its words)."""
        coded = False
        for coding in codings(concept):
            code = as_str(coding.get("code")).strip()
            kind = _system_kind(as_str(coding.get("system")))
            if kind in (SNOMED, ICD10) and code:
                coded = True
                if kind == SNOMED and code in self.snomed:
                    return True
                if kind == ICD10 and self._icd10(code):
                    return True
        return not coded and self._words(concept)

    def _icd10(self, code: str) -> bool:
        plain = code.upper().replace(".", "")
        if any(plain.startswith(excluded) for excluded in self.icd10_excluded):
            return False
        return any(plain.startswith(prefix) for prefix in self.icd10)

    def _words(self, concept: Any) -> bool:
        words, clauses = _clauses(_texts(concept))
        covered: frozenset[int] = frozenset()
        if self.words_excluded:
            heads = frozenset(word for run in self.words for word in run)
            covered = _covered(words, clauses, self.words_excluded, heads)
        return any(_affirmed(words, clauses, run, covered) for run in self.words)


@dataclass(frozen=True, slots=True)
class PressureRule:
    """A coded condition plus a recent reading at or above the thresholds (uncontrolled hypertension)."""

    with_set: str
    systolic: float
    diastolic: float
    within_days: int


@dataclass(frozen=True, slots=True)
class ConditionVocabulary:
    """The condition sets of the knowledge base, and which of them a reading can also satisfy."""

    sets: Mapping[str, CodeSet] = field(default_factory=dict)
    readings: Mapping[str, PressureRule] = field(default_factory=dict)
    systolic_codes: frozenset[str] = frozenset({"8480-6"})
    diastolic_codes: frozenset[str] = frozenset({"8462-4"})


@dataclass(frozen=True, slots=True)
class PatientCondition:
    """One active Condition: where it is and which knowledge-base sets it belongs to."""

    reference: str  # "Condition/epi-1"
    display: str
    sets: frozenset[str]


@dataclass(frozen=True, slots=True)
class Reading:
    """One blood-pressure reading (either value may be missing)."""

    when: datetime | None
    systolic: float | None
    diastolic: float | None


@dataclass(frozen=True, slots=True)
class PatientContext:
    """What the rules know about the patient besides the medication list."""

    conditions: tuple[PatientCondition, ...] = ()
    # medication record reference -> the sets its own reasonCode / reasonReference belong to
    indications: Mapping[str, frozenset[str]] = field(default_factory=dict)
    readings: tuple[Reading, ...] = ()
    vocabulary: ConditionVocabulary = field(default_factory=ConditionVocabulary)

    def has(self, set_id: str, now: datetime) -> PatientCondition | None:
        """The patient's first Condition in the set (or that a reading completes), else None."""
        for condition in self.conditions:
            if set_id in condition.sets:
                return condition
        rule = self.vocabulary.readings.get(set_id)
        if rule is None:
            return None
        base = self.has(rule.with_set, now)
        if base is None or not _high_reading(self.readings, rule, now):
            return None
        limit = f"{rule.systolic:g}/{rule.diastolic:g}"
        display = (
            f"{base.display}, with the latest BP reading (last {rule.within_days} days) "
            f"at or above {limit}"
        )
        return PatientCondition(base.reference, display, frozenset({set_id}))

    def indicated(self, record: str, set_id: str) -> bool:
        """Whether a medication record is taken for a condition of the set."""
        return set_id in self.indications.get(record, frozenset())


NO_CONTEXT = PatientContext()


def read_context(
    conditions: Iterable[Any],
    records: Iterable[tuple[str, Any]],
    observations: Iterable[Any],
    vocabulary: ConditionVocabulary,
) -> PatientContext:
    """The patient's active Conditions, each record's indications and the blood-pressure readings.

    ``records`` are (fact reference, raw medication resource) pairs.
    """
    active = [c for c in conditions if isinstance(c, dict) and _active(c)]
    patient = tuple(_condition(c, i, vocabulary) for i, c in enumerate(active))
    by_reference = {c.reference: c for c in patient}
    # A record that states any indication is in the map, even one no set knows (bipolar disorder):
    # the problem list then does not decide for it.
    indications = {
        reference: _indications(as_dict(resource), by_reference, vocabulary)
        for reference, resource in records
        if _states_reason(as_dict(resource))
    }
    readings = tuple(r for o in observations if (r := _reading(as_dict(o), vocabulary)))
    return PatientContext(patient, indications, readings, vocabulary)


def _active(condition: JsonObject) -> bool:
    clinical = {as_str(c.get("code")).lower() for c in codings(condition.get("clinicalStatus"))}
    verification = {
        as_str(c.get("code")).lower() for c in codings(condition.get("verificationStatus"))
    }
    return not (clinical & _INACTIVE) and not (verification & _NOT_TRUE)


def _condition(
    condition: JsonObject, index: int, vocabulary: ConditionVocabulary
) -> PatientCondition:
    concept = condition.get("code")
    reference = local_reference("Condition", condition.get("id"), index)
    display = next(iter(_texts(concept)), "condition")
    return PatientCondition(reference, display, _sets_of(concept, vocabulary))


def _sets_of(concept: Any, vocabulary: ConditionVocabulary) -> frozenset[str]:
    return frozenset(key for key, codes in vocabulary.sets.items() if codes.matches(concept))


def _states_reason(resource: JsonObject) -> bool:
    return bool(as_list(resource.get("reasonCode")) or as_list(resource.get("reasonReference")))


def _indications(
    resource: JsonObject,
    conditions: Mapping[str, PatientCondition],
    vocabulary: ConditionVocabulary,
) -> frozenset[str]:
    found: set[str] = set()
    for concept in as_list(resource.get("reasonCode")):
        found |= _sets_of(concept, vocabulary)
    for reference in as_list(resource.get("reasonReference")):
        target = _resolve(as_dict(reference), conditions)
        if target is not None:
            found |= target.sets
        found |= _sets_of({"text": as_str(as_dict(reference).get("display"))}, vocabulary)
    return frozenset(found)


def _resolve(
    reference: JsonObject, conditions: Mapping[str, PatientCondition]
) -> PatientCondition | None:
    text = as_str(reference.get("reference")).strip()
    if not text:
        return None
    # "Condition/epi-1", a full URL ending in it, or a version ("/_history/2").
    parts = text.split("/_history/", 1)[0].rstrip("/").split("/")
    key = "/".join(parts[-2:]) if len(parts) >= 2 else text
    return conditions.get(key)


def _reading(observation: JsonObject, vocabulary: ConditionVocabulary) -> Reading | None:
    if as_str(observation.get("status")).lower() in {"entered-in-error", "cancelled"}:
        return None
    systolic = _component(observation, vocabulary.systolic_codes)
    diastolic = _component(observation, vocabulary.diastolic_codes)
    if systolic is None and diastolic is None:
        return None
    when = parse_instant(observation.get("effectiveDateTime")) or parse_instant(
        as_dict(observation.get("effectivePeriod")).get("start")
    )
    return Reading(when, systolic, diastolic)


def _component(observation: JsonObject, codes: frozenset[str]) -> float | None:
    parts: Sequence[Any] = [observation, *as_list(observation.get("component"))]
    for part in parts:
        if any(as_str(c.get("code")) in codes for c in codings(as_dict(part).get("code"))):
            value = as_dict(as_dict(part).get("valueQuantity")).get("value")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None


def _high_reading(readings: Sequence[Reading], rule: PressureRule, now: datetime) -> bool:
    """Whether the latest reading of the window is high: one high reading since brought under
    control (a later normal one) is not uncontrolled hypertension."""
    since = now - timedelta(days=rule.within_days)
    dated = [(r.when, r) for r in readings if r.when is not None and r.when >= since]
    if not dated:
        return False
    latest = max(dated, key=lambda pair: pair[0])[1]
    return (latest.systolic or 0) >= rule.systolic or (latest.diastolic or 0) >= rule.diastolic


def _system_kind(system: str) -> str:
    lowered = system.lower()
    if any(marker in lowered for marker in _ICD10_MARKERS):
        return ICD10
    return code_system_kind(system)


def _texts(concept: Any) -> list[str]:
    concept = as_dict(concept)
    texts = [as_str(concept.get("text"))]
    texts += [as_str(c.get("display")) for c in codings(concept)]
    return [text for text in texts if text]


def _clauses(texts: Iterable[str]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The words of ``texts`` and the clause of each (a text is a clause or more), with a "non"
    joined to the word it prefixes, as "nonfebrile" is written."""
    words: list[str] = []
    clauses: list[int] = []
    clause = 0
    for text in texts:
        for part in _CLAUSE_END.split(_SLASHED_LIST.sub(" or ", text)):
            for word in _joined_non(words_of(part)):
                words.append(word)
                clauses.append(clause)
            clause += 1
    return tuple(words), tuple(clauses)


def phrase_words(phrase: str) -> tuple[str, ...]:
    """A knowledge-base phrase as a Condition's text is read ("non-epileptic" -> "nonepileptic")."""
    return tuple(_joined_non(words_of(phrase)))


def _joined_non(words: tuple[str, ...]) -> list[str]:
    joined: list[str] = []
    i = 0
    while i < len(words):
        if words[i] == "non" and i + 1 < len(words):
            joined.append("non" + words[i + 1])
            i += 2
        else:
            joined.append(words[i])
            i += 1
    return joined


def _affirmed(
    words: tuple[str, ...], clauses: tuple[int, ...], run: tuple[str, ...], covered: frozenset[int]
) -> bool:
    """Whether ``run`` appears in ``words`` outside the ``covered`` positions with no negation just
    before it in its clause: "No history of seizures" is not epilepsy; "Epilepsy, no seizures since
    2019" is (the negation follows the name)."""
    for i, positions in _occurrences(words, clauses, run):
        if not covered.isdisjoint(positions):
            continue
        reach = range(max(0, i - _NEGATION_REACH), i)
        if not any(words[j] in _NEGATIONS and clauses[j] == clauses[i] for j in reach):
            return True
    return False


def _occurrences(
    words: tuple[str, ...], clauses: tuple[int, ...], run: tuple[str, ...]
) -> Iterator[tuple[int, tuple[int, ...]]]:
    """Where ``run`` starts and the positions it takes: in a row, or with its first word one of
    modifiers that share the rest within one clause ("alcohol" in "alcohol and opioid use
    disorder", "alcohol or cannabis dependence")."""
    size = len(run)
    for i in range(len(words) - size + 1):
        if words[i : i + size] == run:
            yield i, tuple(range(i, i + size))
    if size < 2:
        return
    first, rest = run[0], run[1:]
    for i, word in enumerate(words):
        if word != first:
            continue
        j = i + 1
        while j + 1 < len(words) and words[j] in _SHARING and clauses[j + 1] == clauses[i]:
            j += 2  # a conjunction and the next modifier
        end = j + len(rest)
        if j > i + 1 and words[j:end] == rest and clauses[end - 1] == clauses[i]:
            yield i, (i, *range(j, end))


def _covered(
    words: tuple[str, ...],
    clauses: tuple[int, ...],
    runs: tuple[tuple[str, ...], ...],
    heads: frozenset[str],
) -> frozenset[int]:
    """The positions of ``words`` inside an excluded phrase within one clause, unless "and"/"or"
    joins the phrase's modifier to another that may share its noun: "Absence and febrile seizures"
    still names seizures that point to epilepsy (and so, on the safe side, does "Asthma and febrile
    seizures"). ``heads`` are the set's own words: a phrase that ends in one has its noun there."""
    covered: set[int] = set()
    for run in runs:
        size = len(run)
        for i in range(len(words) - size + 1):
            end = i + size
            if words[i:end] != run or clauses[i] != clauses[end - 1]:
                continue
            if i > 0 and words[i - 1] in _CONJUNCTIONS and run[-1] in heads:
                continue
            covered.update(range(i, end))
    return frozenset(covered)
