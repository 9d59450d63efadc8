"""Medication normalisation: raw MedicationStatement/MedicationRequest dicts -> MedicationFact.

Reads only the fields the rules need, straight from the parsed JSON, and degrades per field and per
resource: a malformed field is skipped, a malformed resource is skipped, nothing raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cds_service.clinical.types import ENDED_STATUSES, JsonObject, MedicationFact, SourcedResource
from cds_service.clinical.lexicon import Lexicon, words_of

_NONE: frozenset[str] = frozenset()
MEDICATION_TYPES = frozenset({"MedicationStatement", "MedicationRequest", "MedicationOrder"})


@dataclass(frozen=True, slots=True)
class NormaliseStats:
    """What normalisation saw: records read, those with an interacting ingredient, those skipped."""

    read: int = 0
    with_known_ingredient: int = 0
    malformed: int = 0


# ---- tolerant readers (shared with orders.py) ------------------------------------------------


def as_dict(value: Any) -> JsonObject:
    """The value when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """The value as a list: a lone object becomes a one-item list (the Sandbox sends those)."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def as_str(value: Any) -> str:
    """The value when it is a string, else ""."""
    return value if isinstance(value, str) else ""


def parse_instant(value: Any) -> datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime (UTC when it carries no offset); None if invalid."""
    text = as_str(value).strip()
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def codings(concept: Any) -> Iterator[JsonObject]:
    """Each coding of a CodeableConcept that is an object."""
    for coding in as_list(as_dict(concept).get("coding")):
        if isinstance(coding, dict):
            yield coding


def concept_texts(concept: Any) -> Iterator[str]:
    """The text and the coding displays of a CodeableConcept."""
    text = as_str(as_dict(concept).get("text"))
    if text:
        yield text
    for coding in codings(concept):
        display = as_str(coding.get("display"))
        if display:
            yield display


def resolve_reference(
    reference: str, contained: Iterable[Any], medications: Mapping[str, JsonObject]
) -> JsonObject | None:
    """The Medication a reference points at: a contained "#id", or one of ``medications`` by any key form."""
    if reference.startswith("#"):
        wanted = reference[1:]
        for resource in contained:
            if isinstance(resource, dict) and resource.get("id") == wanted:
                return resource
        return None
    found = medications.get(reference)
    if found is None and "/Medication/" in reference:
        found = medications.get("Medication/" + reference.rsplit("/Medication/", 1)[1])
    return found if isinstance(found, dict) else None


def medication_concepts(
    resource: JsonObject, medications: Mapping[str, JsonObject]
) -> tuple[list[JsonObject], list[str]]:
    """Every CodeableConcept naming the resource's medication, plus reference display texts."""
    concepts = [as_dict(resource.get("medicationCodeableConcept"))]
    texts: list[str] = []
    reference = as_dict(resource.get("medicationReference"))
    texts.append(as_str(reference.get("display")))
    contained = as_list(resource.get("contained"))
    medication = resolve_reference(as_str(reference.get("reference")), contained, medications)
    if medication is not None:
        concepts.append(as_dict(medication.get("code")))
        for ingredient in as_list(medication.get("ingredient")):
            item = as_dict(ingredient)
            concepts.append(as_dict(item.get("itemCodeableConcept")))
            texts.append(as_str(as_dict(item.get("itemReference")).get("display")))
    return concepts, [text for text in texts if text]


# ---- normalisation -----------------------------------------------------------------------------


def normalise(
    resources: Iterable[SourcedResource], lexicon: Lexicon, medications: Mapping[str, JsonObject]
) -> tuple[MedicationFact, ...]:
    """Facts for every medication record with at least one ingredient the knowledge base knows."""
    return normalise_with_stats(resources, lexicon, medications)[0]


def normalise_with_stats(
    resources: Iterable[SourcedResource], lexicon: Lexicon, medications: Mapping[str, JsonObject]
) -> tuple[tuple[MedicationFact, ...], NormaliseStats]:
    """As ``normalise``, also counting records read, matched and skipped as malformed."""
    facts: list[MedicationFact] = []
    read = malformed = 0
    for index, sourced in enumerate(resources):
        read += 1
        try:
            fact = _fact(sourced, index, lexicon, medications)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError):
            malformed += 1
            continue
        if fact is not None:
            facts.append(fact)
    return tuple(facts), NormaliseStats(read, len(facts), malformed)


def _fact(
    sourced: SourcedResource, index: int, lexicon: Lexicon, medications: Mapping[str, JsonObject]
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
    else:  # the common shape, read without building lists: most records name no ingredient we know
        concept = resource.get("medicationCodeableConcept")
        ingredients = _concept_ingredients(concept, lexicon)
        if not ingredients:
            return None
        concepts, extra_texts = [as_dict(concept)], []
    if not ingredients or _acts_locally(concepts, extra_texts, resource):
        return None
    display = first_text(concepts, extra_texts, " / ".join(sorted(ingredients)))
    dosages = [_read_dosage(as_dict(d)) for d in _dosage_list(resource)]
    status = as_str(resource.get("status")).lower()
    started = _started(resource)
    return MedicationFact(
        reference=_reference(resource_type, resource.get("id"), index),
        resource_type=resource_type,
        display=display,
        ingredients=ingredients,
        status=status,
        as_needed=any(dosage.as_needed for dosage in dosages),
        reported=_reported(resource, resource_type),
        started=started,
        ended=_ended(resource, resource_type, status),
        daily_mg=_daily_mg(dosages, ingredients, display),
        dose_text=_dose_text(dosages),
        origin=sourced.origin,
        source_key=sourced.source_key,
    )


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
)
LOCAL_ROUTE_CODES = frozenset(
    {"6064005", "54485002", "10547007"}
)  # SNOMED: topical, ophthalmic, otic


def is_local_product(text: str) -> bool:
    """Whether a product name or route names a form that acts only where it is applied."""
    return not LOCAL_FORM_WORDS.isdisjoint(words_of(text))


def _acts_locally(concepts: list[JsonObject], extra_texts: list[str], resource: JsonObject) -> bool:
    names = [text for concept in concepts for text in concept_texts(concept)] + extra_texts
    if any(is_local_product(name) for name in names):
        return True
    for dosage in _dosage_list(resource):
        route = as_dict(as_dict(dosage).get("route"))
        if any(is_local_product(text) for text in concept_texts(route)):
            return True
        if any(as_str(coding.get("code")) in LOCAL_ROUTE_CODES for coding in codings(route)):
            return True
    return False


def first_text(concepts: Iterable[JsonObject], texts: Iterable[str], default: str) -> str:
    """The first text or coding display of the concepts, else the first of ``texts``, else ``default``."""
    for concept in concepts:
        for text in concept_texts(concept):
            return text
    return next(iter(texts), default)


def _reference(resource_type: str, resource_id: Any, index: int) -> str:
    if isinstance(resource_id, str) and resource_id:
        return f"{resource_type}/{resource_id}"
    return f"{resource_type}/#{index}"


def _reported(resource: JsonObject, resource_type: str) -> bool:
    if resource_type == "MedicationStatement":
        return True  # a medication list entry: what the patient or a carer says is taken
    if resource.get("reportedBoolean") is True:
        return True
    return bool(as_dict(resource.get("reportedReference")))


def _started(resource: JsonObject) -> datetime | None:
    dispense = as_dict(resource.get("dispenseRequest"))
    candidates = (
        as_dict(resource.get("effectivePeriod")).get("start"),
        resource.get("effectiveDateTime"),
        resource.get("authoredOn"),
        resource.get("dateWritten"),  # DSTU2 MedicationOrder
        as_dict(dispense.get("validityPeriod")).get("start"),
        resource.get("dateAsserted"),
    )
    return first_instant(candidates)


def _ended(resource: JsonObject, resource_type: str, status: str) -> datetime | None:
    dispense = as_dict(resource.get("dispenseRequest"))
    explicit = first_instant(
        (
            as_dict(resource.get("effectivePeriod")).get("end"),
            as_dict(dispense.get("validityPeriod")).get("end"),
        )
    )
    if explicit is not None or status not in ENDED_STATUSES:
        return explicit
    if resource_type == "MedicationStatement":
        return first_instant((resource.get("dateAsserted"), resource.get("effectiveDateTime")))
    return _request_stop_estimate(resource, dispense)


def _request_stop_estimate(resource: JsonObject, dispense: JsonObject) -> datetime | None:
    # A stopped/completed request without an end date: it applied at most until its supply ran out
    # (authoredOn + expectedSupplyDuration); without a supply we take authoredOn, the last date we know.
    # statusReason carries no date, so it is not used.
    authored = first_instant((resource.get("authoredOn"), resource.get("dateWritten")))
    if authored is None:
        return None
    supply_days = _duration_days(as_dict(dispense.get("expectedSupplyDuration")))
    return authored + timedelta(days=supply_days) if supply_days else authored


def first_instant(values: Iterable[Any]) -> datetime | None:
    """The first value that parses as a FHIR date/dateTime (shared with orders.py)."""
    for value in values:
        parsed = parse_instant(value)
        if parsed is not None:
            return parsed
    return None


# ---- dose and frequency --------------------------------------------------------------------------

_MG_PER_UNIT = {
    "mg": 1.0,
    "milligram": 1.0,
    "milligrams": 1.0,
    "g": 1000.0,
    "gram": 1000.0,
    "mcg": 0.001,
    "ug": 0.001,
    "microgram": 0.001,
}
# Units that count whole dose forms; mg then comes from the product's strength.
_COUNT_UNITS = frozenset(
    {"{pill}", "{tbl}", "{tablet}", "{capsule}", "{cap}", "pill", "pills", "tab", "tabs", "tablet",
     "tablets", "tablet(s)", "capsule", "capsules", "capsule(s)", "cap", "caps", "1"}
)  # fmt: skip
_DAYS_PER_UNIT = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0,
                  "a": 365.0}  # fmt: skip
_UNIT_ALIASES = {"day": "d", "days": "d", "hour": "h", "hours": "h", "week": "wk", "weeks": "wk",
                 "month": "mo", "months": "mo", "minute": "min", "minutes": "min"}  # fmt: skip
# HL7 v3 GTSAbbreviation codes seen in timing.code: administrations per day.
_TIMING_CODES = {"QD": 1.0, "QAM": 1.0, "QPM": 1.0, "AM": 1.0, "PM": 1.0, "HS": 1.0, "QHS": 1.0,
                 "BID": 2.0, "TID": 3.0, "QID": 4.0, "QOD": 0.5, "WK": 1 / 7, "MO": 1 / 30}  # fmt: skip
# "0.5 MG" counts; "200 MG/ML" (a concentration) does not.
_STRENGTH = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(mg|mcg)\b(?!/)", re.IGNORECASE)
_EVERY_N_HOURS = re.compile(r"^Q(\d{1,2})H$")
_FREQUENCY_WORDS = {1.0: "once daily", 2.0: "twice daily", 3.0: "three times daily",
                    4.0: "four times daily", 0.5: "every other day"}  # fmt: skip


def _is_as_needed(dosage: JsonObject) -> bool:
    if dosage.get("asNeededBoolean") is True or dosage.get("asNeeded") is True:
        return True
    return bool(as_dict(dosage.get("asNeededCodeableConcept")))


def _unit(quantity: JsonObject) -> str:
    return (as_str(quantity.get("code")) or as_str(quantity.get("unit"))).strip().lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _dose_quantity(dosage: JsonObject) -> JsonObject:
    """doseAndRate[].doseQuantity / doseRange.high (R4), or dosage.doseQuantity / doseRange (STU3)."""
    for holder in (*[as_dict(item) for item in as_list(dosage.get("doseAndRate"))], dosage):
        quantity = as_dict(holder.get("doseQuantity")) or as_dict(
            as_dict(holder.get("doseRange")).get("high")
        )
        if quantity:
            return quantity
    return {}


def _strength_mg(product_name: str) -> float | None:
    """The strength of a single-strength product from its RxNorm name ("Clonazepam 0.5 MG Oral Tablet")."""
    strengths = _STRENGTH.findall(product_name)
    if len(strengths) != 1:
        return None
    value, unit = strengths[0]
    return float(value) * _MG_PER_UNIT[unit.lower()]


def _quantity_mg(quantity: JsonObject, strength_mg: float | None) -> float | None:
    value = _number(quantity.get("value"))
    unit = _unit(quantity)
    if value is None:
        return None
    if unit in _MG_PER_UNIT:
        return value * _MG_PER_UNIT[unit]
    if unit in _COUNT_UNITS and strength_mg is not None:
        return value * strength_mg
    return None


def _per_day(timing: JsonObject) -> float | None:
    """Administrations per day from timing.repeat (frequency/period/periodUnit) or timing.code."""
    repeat = as_dict(timing.get("repeat"))
    period = _number(repeat.get("period"))
    unit = as_str(repeat.get("periodUnit") or repeat.get("periodUnits"))
    days = _DAYS_PER_UNIT.get(_UNIT_ALIASES.get(unit, unit))
    frequency = _number(repeat.get("frequency"))
    if period and days:
        if frequency == 0:  # not a FHIR positiveInt: unknown, never read as 0 mg/day
            return None
        return (frequency if frequency is not None else 1.0) / (period * days)
    per_day_events = len(as_list(repeat.get("timeOfDay")) or as_list(repeat.get("when")))
    if per_day_events and not period:
        return float(per_day_events)
    return _per_day_from_code(as_dict(timing.get("code")))


def _per_day_from_code(code: JsonObject) -> float | None:
    names = [as_str(coding.get("code")) for coding in codings(code)] + [as_str(code.get("text"))]
    for name in (n.strip().upper() for n in names if n):
        if name in _TIMING_CODES:
            return _TIMING_CODES[name]
        hours = _EVERY_N_HOURS.match(name)
        if hours and int(hours.group(1)) > 0:
            return 24 / int(hours.group(1))
    return None


@dataclass(frozen=True, slots=True)
class _Dosage:
    """One dosage, read once: what the daily dose and the dose text both need."""

    raw: JsonObject
    quantity: JsonObject
    per_day: float | None
    every_hours: float | None  # "every 6 hours" when the timing says so
    as_needed: bool


def _read_dosage(dosage: JsonObject) -> _Dosage:
    timing = as_dict(dosage.get("timing"))
    repeat = as_dict(timing.get("repeat"))
    every_hours = None
    if repeat.get("periodUnit") == "h" and repeat.get("frequency", 1) == 1:
        every_hours = _number(repeat.get("period"))
    return _Dosage(
        dosage, _dose_quantity(dosage), _per_day(timing), every_hours, _is_as_needed(dosage)
    )


def _max_per_day_mg(dosage: JsonObject, strength_mg: float | None) -> float | None:
    ratio = as_dict(dosage.get("maxDosePerPeriod"))
    amount = _quantity_mg(as_dict(ratio.get("numerator")), strength_mg)
    days = _duration_days(as_dict(ratio.get("denominator")))
    return amount / days if amount is not None and days else None


def _dosage_daily_mg(dosage: _Dosage, strength_mg: float | None) -> float | None:
    # As needed: the permitted maximum (maxDosePerPeriod, else dose x frequency) is the daily figure;
    # without either we do not know, and an unknown dose is never guessed.
    if dosage.as_needed:
        maximum = _max_per_day_mg(dosage.raw, strength_mg)
        if maximum is not None:
            return maximum
    dose = _quantity_mg(dosage.quantity, strength_mg)
    return dose * dosage.per_day if dose is not None and dosage.per_day is not None else None


def _daily_mg(
    dosages: list[_Dosage], ingredients: frozenset[str], product_name: str
) -> dict[str, float]:
    """{ingredient: mg/day} for single-ingredient records whose every dosage is computable."""
    if len(ingredients) != 1 or not dosages:
        return {}  # an mg dose of a combination product does not say how much of each ingredient
    strength = _strength_mg(product_name)
    total = 0.0
    for dosage in dosages:
        daily = _dosage_daily_mg(dosage, strength)
        if daily is None:
            return {}
        total += daily
    return {next(iter(ingredients)): round(total, 4)}


def _duration_days(quantity: JsonObject) -> float | None:
    value = _number(quantity.get("value"))
    unit = _unit(quantity)
    days = _DAYS_PER_UNIT.get(_UNIT_ALIASES.get(unit, unit))
    return value * days if value and days else None


def _dose_text(dosages: list[_Dosage]) -> str | None:
    """The dosages as a person would read them ("0.5 mg twice daily as needed"), else their text."""
    parts = [text for text in (_one_dose_text(dosage) for dosage in dosages) if text]
    return "; ".join(parts) or None


def _one_dose_text(dosage: _Dosage) -> str | None:
    value = _number(dosage.quantity.get("value"))
    if value is None:
        return as_str(dosage.raw.get("text")) or None
    unit = as_str(dosage.quantity.get("unit")) or as_str(dosage.quantity.get("code")).strip("{}")
    words = [f"{value:g} {unit}".strip()]
    if dosage.every_hours:
        words.append(f"every {dosage.every_hours:g} hours")
    elif dosage.per_day is not None:
        words.append(_frequency_words(dosage.per_day))
    if dosage.as_needed:
        words.append("as needed")
    return " ".join(words)


def _frequency_words(per_day: float) -> str:
    rounded = round(per_day, 4)
    if rounded in _FREQUENCY_WORDS:
        return _FREQUENCY_WORDS[rounded]
    if rounded == round(1 / 7, 4):
        return "once weekly"
    if per_day < 1 and round(1 / per_day, 2).is_integer():
        return f"every {round(1 / per_day):d} days"
    if per_day > 24 and round(1440 / per_day, 2).is_integer():
        return f"every {round(1440 / per_day):d} minutes"
    return f"{rounded:g} times daily"
