"""How each medication record was read: its fact, or why it gave none. Pure.

``read_records`` is the explain trace's view of normalisation (every record, with its reason);
``unrecognised_entries`` is the service's: the free-text entries nothing could classify, listed on
one low-key card so that nothing is silently skipped. Both reuse ``medications`` for the facts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cds_service.clinical import medications as meds
from cds_service.clinical.fhirjson import as_dict, as_str, medication_concepts, parse_instant
from cds_service.clinical.freetext import entry_text, is_free_text, probable_matches
from cds_service.clinical.lexicon import Lexicon
from cds_service.clinical.types import JsonObject, MedicationFact, SourcedResource

Outcome = Literal[
    "read",  # a fact: an ingredient of the knowledge base, exactly or probably
    "not a medication record",
    "malformed",
    "acts locally",  # topical, eye, ear: no systemic exposure (medications.LOCAL_FORM_WORDS)
    "unrecognised free text",  # no code, no lexicon or probable match
    "no interacting ingredient",  # coded: a real drug the knowledge base does not list
    "use denied",  # free text naming a substance it denies ("Denies cocaine use", "THC-free")
]
# An entry recorded in error, not taken, cancelled or a draft would not count even if recognised.
NOT_LISTED_STATUSES = frozenset({"entered-in-error", "not-taken", "cancelled", "draft"})


@dataclass(frozen=True, slots=True)
class RecordReading:
    """One record: its fact when it gave one, else the reason it gave none."""

    position: int  # 1-based, in the order the records were gathered
    resource_type: str
    outcome: Outcome
    fact: MedicationFact | None = None
    text: str = ""  # the entry as written (free text and coded displays alike)


def read_records(
    resources: Iterable[SourcedResource],
    lexicon: Lexicon,
    medications: Mapping[str, JsonObject],
    also_read: Mapping[str, MedicationFact] | None = None,
) -> tuple[RecordReading, ...]:
    """Every record as the normaliser read it (the explain trace; not on the hot path).

    ``also_read``: the facts the evaluation used, by record reference (the same objects, so the
    trace can say which card counted which record), including what other readers made of records
    the normaliser left (substance use: "Alcohol - 4 to 6 beers daily")."""
    readings: list[RecordReading] = []
    for index, sourced in enumerate(resources):
        resource = sourced.resource
        kind = as_str(resource.get("resourceType")) if isinstance(resource, dict) else ""
        try:
            fact = also_read.get(meds.record_reference(resource, index)) if also_read else None
            if fact is None:
                fact = meds.read_one(sourced, index, lexicon, medications)
                if fact is not None and also_read is not None:
                    # Read, yet not among the evaluation's facts: the substance reader dropped it.
                    readings.append(
                        RecordReading(index + 1, kind, "use denied", None, fact.display)
                    )
                    continue
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError):
            readings.append(RecordReading(index + 1, kind, "malformed"))
            continue
        if fact is not None:
            readings.append(RecordReading(index + 1, kind, "read", fact, fact.display))
            continue
        outcome, text = _why_not(resource, lexicon, medications)
        readings.append(RecordReading(index + 1, kind, outcome, None, text))
    return tuple(readings)


def unrecognised_entries(
    resources: Sequence[SourcedResource],
    lexicon: Lexicon,
    medications: Mapping[str, JsonObject],
    read: Collection[str] = frozenset(),
    ended_before: datetime | None = None,
    only: Iterable[int] | None = None,
) -> tuple[str, ...]:
    """The free-text entries that name nothing the knowledge base knows, even probably.

    ``read``: references of records another reader recognised (substance use), never listed;
    ``ended_before``: a stopped or completed entry whose stated end is earlier is not listed
    (outside every washout, it would give no card even if recognised); ``only``: the positions of
    the uncoded records, as the normaliser found them (all records when not given)."""
    found: list[str] = []
    for index in range(len(resources)) if only is None else only:
        resource = resources[index].resource
        if (
            not isinstance(resource, dict)
            or as_str(resource.get("resourceType")) not in meds.MEDICATION_TYPES
        ):
            continue
        if "medicationReference" not in resource and not is_free_text(
            (as_dict(resource.get("medicationCodeableConcept")),)
        ):
            continue  # the common, coded shape: one look at its codings (the hot path)
        try:
            outcome, text = _why_not(resource, lexicon, medications)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError):
            continue
        if (
            outcome == "unrecognised free text"
            and _status(resource) not in NOT_LISTED_STATUSES
            and meds.record_reference(resource, index) not in read
            and not _ended_before(resource, ended_before)
        ):
            found.append(text)
    return tuple(found)


def _why_not(
    resource: object, lexicon: Lexicon, medications: Mapping[str, JsonObject]
) -> tuple[Outcome, str]:
    """Why a record gave no fact (or "read" when it names a known ingredient after all)."""
    if not isinstance(resource, dict):
        return "malformed", ""
    if as_str(resource.get("resourceType")) not in meds.MEDICATION_TYPES:
        return "not a medication record", ""
    concepts, extra = medication_concepts(resource, medications)
    concepts = [as_dict(concept) for concept in concepts if concept]
    text = entry_text(concepts, extra)
    if meds.ingredients_named(concepts, extra, lexicon) or probable_matches(
        concepts, extra, lexicon
    ):
        return "acts locally", text  # it names an ingredient, yet gave no fact: local use
    if not is_free_text(concepts):
        return "no interacting ingredient", text
    if not text.strip():
        return "malformed", ""
    return "unrecognised free text", text


def _ended_before(resource: JsonObject, limit: datetime | None) -> bool:
    if limit is None or _status(resource) not in {"stopped", "completed"}:
        return False
    end = parse_instant(as_dict(resource.get("effectivePeriod")).get("end"))
    return end is not None and end < limit


def _status(resource: JsonObject) -> str:
    return as_str(resource.get("status")).strip().lower()
