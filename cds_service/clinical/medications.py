"""Medication normalisation: raw MedicationStatement/MedicationRequest dicts -> MedicationFact.

Reads only the fields the rules need, straight from the parsed JSON, and degrades per field and per
resource: a malformed field is skipped, a malformed resource is skipped, nothing raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cds_service.clinical.dose import (
    daily_mg,
    dose_text,
    max_daily_mg,
    mentions_as_needed,
    rate_mcg_per_hour,
    read_dosage,
)
from cds_service.clinical.fhirjson import (
    as_dict,
    as_list,
    as_str,
    codings,
    concept_texts,
    first_text,
    local_reference,
    medication_concepts,
)
from cds_service.clinical.freetext import is_free_text, probable_display, probable_matches
from cds_service.clinical.lexicon import Lexicon, words_of
from cds_service.clinical.memo import JsonMemo
from cds_service.clinical.recorded import ended, reported, started
from cds_service.clinical.types import JsonObject, MedicationFact, SourcedResource

_NONE: frozenset[str] = frozenset()
MEDICATION_TYPES = frozenset({"MedicationStatement", "MedicationRequest", "MedicationOrder"})


@dataclass(frozen=True, slots=True)
class NormaliseStats:
    """What normalisation saw: records read, those with an interacting ingredient, those skipped."""

    read: int = 0
    with_known_ingredient: int = 0
    malformed: int = 0


@dataclass(frozen=True, slots=True)
class ListReading:
    """One pass over a medication list: its facts and counts, and where the other readers must look."""

    facts: tuple[MedicationFact, ...]
    stats: NormaliseStats
    # Positions of the records with no RxNorm, SNOMED CT or NDC code, or naming their Medication by
    # reference: the only ones the substance reader and the unrecognised-entry scan can find anything
    # in, so a coded list is not walked again (most lists are wholly coded).
    uncoded: tuple[int, ...] = ()
    # Positions of the records that state a reason (reasonCode, reasonReference): the only ones with
    # an indication to read.
    reasoned: tuple[int, ...] = ()


# What one look at a record's concept says (``NormaliseMemo.kinds``): bit flags.
_RELEVANT = 1  # names an ingredient of the knowledge base, exactly or probably
_UNCODED = 2  # free text: no RxNorm, SNOMED CT or NDC code


@dataclass(frozen=True, slots=True)
class _Product:
    """What a record says about its product and dose: a pure function of its concept and dosages."""

    display: str
    ingredients: frozenset[str]
    as_needed: bool
    daily_mg: Mapping[str, float]
    dose_text: str | None
    max_daily_mg: Mapping[str, float]
    rate_mcg_per_hour: float | None
    depot_days: int | None
    probable: bool


class NormaliseMemo:
    """Per distinct CodeableConcept, its ingredients; per distinct concept and dosages, its product
    (None: a local product). One per knowledge base, held for the process's life."""

    __slots__ = ("ingredients", "kinds", "misspelt", "products")

    def __init__(self, lexicon: Lexicon) -> None:
        self.ingredients: JsonMemo[frozenset[str]] = JsonMemo(
            lambda concept: _concept_ingredients(concept, lexicon)
        )
        # Whether a concept no ingredient matched is a free-text entry with a probable misspelt name.
        self.misspelt: JsonMemo[bool] = JsonMemo(
            lambda concept: bool(probable_matches([as_dict(concept)], [], lexicon))
        )
        self.products: JsonMemo[_Product | None] = JsonMemo(
            lambda key: _coded_product(key, lexicon, self.ingredients(key[0]))
        )
        # Every question about a concept at one look (the hot path): most records of a list are
        # coded and name nothing the knowledge base knows.
        self.kinds: JsonMemo[int] = JsonMemo(self._kind)

    def _kind(self, concept: Any) -> int:
        relevant = bool(self.ingredients(concept)) or self.misspelt(concept)
        uncoded = is_free_text((as_dict(concept),))
        return (_RELEVANT if relevant else 0) | (_UNCODED if uncoded else 0)


def normalise_memo(lexicon: Lexicon) -> NormaliseMemo:
    """The memo ``normalise`` uses for ``lexicon`` (a pure function of each concept and dosage)."""
    return NormaliseMemo(lexicon)


def normalise(
    resources: Iterable[SourcedResource],
    lexicon: Lexicon,
    medications: Mapping[str, JsonObject],
    memo: NormaliseMemo | None = None,
) -> tuple[MedicationFact, ...]:
    """Facts for every medication record with at least one ingredient the knowledge base knows.

    ``memo`` (from ``normalise_memo(lexicon)``) remembers each product's reading across calls."""
    return read_list(resources, lexicon, medications, memo).facts


def read_list(
    resources: Iterable[SourcedResource],
    lexicon: Lexicon,
    medications: Mapping[str, JsonObject],
    memo: NormaliseMemo | None = None,
) -> ListReading:
    """The list read in one pass: facts, counts, and the positions of uncoded and reasoned records."""
    facts: list[MedicationFact] = []
    uncoded: list[int] = []
    reasoned: list[int] = []
    read = malformed = 0
    for index, sourced in enumerate(resources):
        read += 1
        resource = sourced.resource
        try:  # a record that cannot be read is counted and skipped; the others are still read
            if (
                isinstance(resource, dict)
                and as_str(resource.get("resourceType")) in MEDICATION_TYPES
            ):
                if "reasonCode" in resource or "reasonReference" in resource:
                    reasoned.append(index)
                if "medicationReference" in resource:
                    uncoded.append(index)
                else:
                    concept = resource.get("medicationCodeableConcept")
                    if memo is not None:
                        kind = memo.kinds(concept)
                        if kind & _UNCODED:
                            uncoded.append(index)
                        if not kind & _RELEVANT:
                            continue  # the common record: coded, naming nothing we know
                    elif is_free_text((as_dict(concept),)):
                        uncoded.append(index)
            fact = _fact(sourced, index, lexicon, medications, memo)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError):
            malformed += 1
            continue
        if fact is not None:
            facts.append(fact)
    stats = NormaliseStats(read, len(facts), malformed)
    return ListReading(tuple(facts), stats, tuple(uncoded), tuple(reasoned))


def _fact(
    sourced: SourcedResource,
    index: int,
    lexicon: Lexicon,
    medications: Mapping[str, JsonObject],
    memo: NormaliseMemo | None = None,
) -> MedicationFact | None:
    resource = sourced.resource
    if not isinstance(resource, dict):
        raise TypeError("resource is not an object")
    resource_type = as_str(resource.get("resourceType"))
    if resource_type not in MEDICATION_TYPES:
        return None
    if "medicationReference" in resource:
        concepts, extra_texts = medication_concepts(resource, medications)
        ingredients = _ingredients(concepts, extra_texts, lexicon)
        product = _product(concepts, extra_texts, resource, ingredients, lexicon)
    elif memo is not None:  # ``read_list`` has looked: the concept names an ingredient we know
        concept = resource.get("medicationCodeableConcept")
        key = [concept, resource.get("dosage"), resource.get("dosageInstruction")]
        product = memo.products(key)
    else:
        concept = resource.get("medicationCodeableConcept")
        ingredients = _concept_ingredients(concept, lexicon)
        product = _product([as_dict(concept)], [], resource, ingredients, lexicon)
    if product is None:
        return None
    status = as_str(resource.get("status")).lower()
    return MedicationFact(
        reference=local_reference(resource_type, resource.get("id"), index),
        resource_type=resource_type,
        display=product.display,
        ingredients=product.ingredients,
        status=status,
        as_needed=product.as_needed,
        reported=reported(resource, resource_type),
        started=started(resource),
        ended=ended(resource, resource_type, status),
        daily_mg=dict(product.daily_mg),
        dose_text=product.dose_text,
        origin=sourced.origin,
        source_key=sourced.source_key,
        max_daily_mg=dict(product.max_daily_mg),
        rate_mcg_per_hour=product.rate_mcg_per_hour,
        depot_days=product.depot_days,
        probable=product.probable,
    )


def read_one(
    sourced: SourcedResource, index: int, lexicon: Lexicon, medications: Mapping[str, JsonObject]
) -> MedicationFact | None:
    """One record's fact, ``index`` its position; None without a known ingredient. May raise on a
    malformed record (``normalise`` counts those)."""
    return _fact(sourced, index, lexicon, medications)


def _coded_product(
    key: list[Any], lexicon: Lexicon, ingredients: frozenset[str]
) -> _Product | None:
    concept, dosage, instruction = key
    dosages = {"dosage": dosage, "dosageInstruction": instruction}
    return _product([as_dict(concept)], [], dosages, ingredients, lexicon)


def _product(
    concepts: list[JsonObject],
    extra_texts: list[str],
    resource: JsonObject,
    ingredients: frozenset[str],
    lexicon: Lexicon,
) -> _Product | None:
    """The product and dose of a record (only its concepts and dosages are read); None when it
    names no known ingredient or acts only where it is applied."""
    probable = probable_matches(concepts, extra_texts, lexicon) if not ingredients else ()
    if probable:  # a free-text entry nothing else recognised, read as the name it misspells
        ingredients = frozenset().union(*(match.ingredients for match in probable))
    if not ingredients or _acts_locally(concepts, extra_texts, resource):
        return None
    display = first_text(concepts, extra_texts, " / ".join(sorted(ingredients)))
    if probable:
        display = probable_display(display, probable)
    dosages = [read_dosage(as_dict(d)) for d in _dosage_list(resource)]
    return _Product(
        display=display,
        ingredients=ingredients,
        # A transcribed entry may say it only in its name ("Ativan 0.5 mg prn", no dosage).
        as_needed=any(dosage.as_needed for dosage in dosages) or mentions_as_needed(display),
        daily_mg=daily_mg(dosages, ingredients, display),
        dose_text=dose_text(dosages),
        max_daily_mg=max_daily_mg(dosages, ingredients, display),
        rate_mcg_per_hour=rate_mcg_per_hour(dosages, display) if len(ingredients) == 1 else None,
        depot_days=lexicon.depot_days(ingredients, _names(concepts, extra_texts)),
        probable=bool(probable),
    )


def _names(concepts: list[JsonObject], extra_texts: list[str]) -> list[str]:
    return [text for concept in concepts for text in concept_texts(concept)] + extra_texts


def _dosage_list(resource: JsonObject) -> list[Any]:
    return as_list(resource.get("dosage")) + as_list(resource.get("dosageInstruction"))


def _ingredients(
    concepts: Iterable[JsonObject], extra_texts: Iterable[str], lexicon: Lexicon
) -> frozenset[str]:
    found: set[str] = set()
    for concept in concepts:
        found |= _concept_ingredients(concept, lexicon)
    for text in extra_texts:
        found |= lexicon.ingredients_in_text(text)
    return frozenset(found)


def ingredients_named(
    concepts: Iterable[JsonObject], extra_texts: Iterable[str], lexicon: Lexicon
) -> frozenset[str]:
    """The ingredients a record's concepts and texts name exactly (codes first, then names)."""
    return _ingredients(concepts, extra_texts, lexicon)


def _concept_ingredients(concept: Any, lexicon: Lexicon) -> frozenset[str]:
    """Ingredients named by one CodeableConcept: each coding's code, else its display; and its text.

    The hot path of a request (every record of the history passes here), so it reads the dicts
    directly instead of through the generic readers.
    """
    if not isinstance(concept, dict):
        return _NONE
    found = _NONE
    listed = concept.get("coding")
    for coding in listed if isinstance(listed, list) else (listed,):
        if not isinstance(coding, dict):
            continue
        system, code = coding.get("system"), coding.get("code")
        known = lexicon.ingredients_for_code(
            system if isinstance(system, str) else "", code if isinstance(code, str) else ""
        )
        if not known:
            display = coding.get("display")
            known = lexicon.ingredients_in_text(display) if isinstance(display, str) else _NONE
        if known:
            found = found | known if found else known
    text = concept.get("text")
    if isinstance(text, str) and text:
        named = lexicon.ingredients_in_text(text)
        if named:
            found = found | named if found else named
    return found


# Clinical decision: a product applied to the skin, eye or ear (hand-rub ethanol, diphenhydramine cream,
# ketoconazole shampoo) has no systemic exposure that matters for a ketamine infusion, so it raises no
# card. Transdermal patches (fentanyl, selegiline), nasal, rectal and vaginal products stay: they are
# absorbed. Matched on the product name and on the dosage route.
LOCAL_FORM_WORDS = frozenset(
    {"topical", "ophthalmic", "otic", "cutaneous", "shampoo", "cream", "lotion", "ointment"}
    | {"soap", "swab", "swabstick", "pad", "wipe", "mouthwash", "dentifrice", "toothpaste"}
    | {"sanitiser", "sanitizer"}  # ethyl alcohol hand gel: on the skin, never drunk
)
LOCAL_ROUTE_CODES = frozenset(
    {"6064005", "54485002", "10547007"}
)  # SNOMED: topical, ophthalmic, otic


def is_local_product(text: str) -> bool:
    """Whether a product name or route names a form that acts only where it is applied."""
    return not LOCAL_FORM_WORDS.isdisjoint(words_of(text))


def _acts_locally(concepts: list[JsonObject], extra_texts: list[str], resource: JsonObject) -> bool:
    if any(is_local_product(name) for name in _names(concepts, extra_texts)):
        return True
    for dosage in _dosage_list(resource):
        route = as_dict(as_dict(dosage).get("route"))
        if any(is_local_product(text) for text in concept_texts(route)):
            return True
        if any(as_str(coding.get("code")) in LOCAL_ROUTE_CODES for coding in codings(route)):
            return True
    return False


def record_reference(resource: Any, index: int) -> str:
    """The reference a record's facts carry: its type and id, else its position in the list."""
    resource = resource if isinstance(resource, dict) else {}
    return local_reference(as_str(resource.get("resourceType")), resource.get("id"), index)
