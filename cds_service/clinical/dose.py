"""Dose and frequency: a dosage as a person reads it, and mg/day when the dosage is coded well enough.

An unknown dose is never guessed: any uncertainty makes the daily dose unknown (None / empty).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cds_service.clinical.fhirjson import as_dict, as_list, as_str, codings
from cds_service.clinical.types import JsonObject

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
_AS_NEEDED_TEXT = re.compile(r"\b(prn|p\.r\.n\.?|(as|when|if) needed)(?![\w.])", re.IGNORECASE)
_FREQUENCY_WORDS = {1.0: "once daily", 2.0: "twice daily", 3.0: "three times daily",
                    4.0: "four times daily", 0.5: "every other day"}  # fmt: skip


def mentions_as_needed(text: str) -> bool:
    """Whether a text says as-needed use in words ("PRN", "as needed")."""
    return bool(_AS_NEEDED_TEXT.search(text))


def _is_as_needed(dosage: JsonObject) -> bool:
    if dosage.get("asNeededBoolean") is True or dosage.get("asNeeded") is True:
        return True
    if as_dict(dosage.get("asNeededCodeableConcept")):
        return True
    # Patient-reported and transcribed dosages often say it only in words ("0.5 mg PRN anxiety").
    return mentions_as_needed(as_str(dosage.get("text")))


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
class Dosage:
    """One dosage, read once: what the daily dose and the dose text both need."""

    raw: JsonObject
    quantity: JsonObject
    per_day: float | None
    every_hours: float | None  # "every 6 hours" when the timing says so
    as_needed: bool


def read_dosage(dosage: JsonObject) -> Dosage:
    timing = as_dict(dosage.get("timing"))
    repeat = as_dict(timing.get("repeat"))
    every_hours = None
    if repeat.get("periodUnit") == "h" and repeat.get("frequency", 1) == 1:
        every_hours = _number(repeat.get("period"))
    return Dosage(
        dosage, _dose_quantity(dosage), _per_day(timing), every_hours, _is_as_needed(dosage)
    )


def _max_per_day_mg(dosage: JsonObject, strength_mg: float | None) -> float | None:
    ratio = as_dict(dosage.get("maxDosePerPeriod"))
    amount = _quantity_mg(as_dict(ratio.get("numerator")), strength_mg)
    days = duration_days(as_dict(ratio.get("denominator")))
    return amount / days if amount is not None and days else None


def _dosage_daily_mg(
    dosage: Dosage, strength_mg: float | None
) -> tuple[float | None, float | None]:
    """(usual mg/day, maximum mg/day) of one dosage; either None when the dosage does not say.

    Scheduled: dose x frequency, and maxDosePerPeriod as the maximum. As needed: the usual figure is
    one dose (a day the drug is used); dose x frequency ("up to twice daily") or maxDosePerPeriod is
    the maximum, never the usual dose. An unknown dose is never guessed.
    """
    dose = _quantity_mg(dosage.quantity, strength_mg)
    stated_max = _max_per_day_mg(dosage.raw, strength_mg)
    if dosage.as_needed:
        up_to = dose * dosage.per_day if dose is not None and dosage.per_day is not None else None
        return dose, stated_max if stated_max is not None else up_to
    usual = dose * dosage.per_day if dose is not None and dosage.per_day is not None else None
    return usual, stated_max


def daily_mg(
    dosages: list[Dosage], ingredients: frozenset[str], product_name: str
) -> dict[str, float]:
    """{ingredient: usual mg/day} for single-ingredient records whose every dosage is computable."""
    return _per_ingredient(dosages, ingredients, product_name, 0)


def max_daily_mg(
    dosages: list[Dosage], ingredients: frozenset[str], product_name: str
) -> dict[str, float]:
    """{ingredient: mg/day at the stated maximum} when every dosage states or implies one."""
    return _per_ingredient(dosages, ingredients, product_name, 1)


def _per_ingredient(
    dosages: list[Dosage], ingredients: frozenset[str], product_name: str, which: int
) -> dict[str, float]:
    if len(ingredients) != 1 or not dosages:
        return {}  # an mg dose of a combination product does not say how much of each ingredient
    strength = _strength_mg(product_name)
    total = 0.0
    for dosage in dosages:
        daily = _dosage_daily_mg(dosage, strength)[which]
        if daily is None:
            return {}
        total += daily
    return {next(iter(ingredients)): round(total, 4)}


# "fentanyl 25 MCG/HR Transdermal System": the rate a patch delivers.
_RATE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:mcg|ug)\s*/\s*(?:hr?|hour)\b", re.IGNORECASE)
_RATE_UNITS = frozenset({"mcg/h", "mcg/hr", "ug/h", "ug/hr", "mcg/hour"})


def rate_mcg_per_hour(dosages: list[Dosage], product_name: str) -> float | None:
    """The delivery rate of a patch (mcg/h), from the dose quantity or the product's name."""
    for dosage in dosages:
        if _unit(dosage.quantity) in _RATE_UNITS:
            return _number(dosage.quantity.get("value"))
    rates = _RATE.findall(product_name)
    return float(rates[0]) if len(rates) == 1 else None


def duration_days(quantity: JsonObject) -> float | None:
    value = _number(quantity.get("value"))
    unit = _unit(quantity)
    days = _DAYS_PER_UNIT.get(_UNIT_ALIASES.get(unit, unit))
    return value * days if value and days else None


def dose_text(dosages: list[Dosage]) -> str | None:
    """The dosages as a person would read them ("0.5 mg twice daily as needed"), else their text."""
    parts = [text for text in (_one_dose_text(dosage) for dosage in dosages) if text]
    return "; ".join(parts) or None


def _one_dose_text(dosage: Dosage) -> str | None:
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
