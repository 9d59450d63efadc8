"""Tolerant readers of FHIR JSON (plain dicts from orjson): a malformed field reads as empty, never raises.

Shared by order detection and medication normalisation; no knowledge of any rule or class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from cds_service.clinical.types import InfusionStart, JsonObject

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


def local_reference(kind: str, resource_id: Any, index: int) -> str:
    """How a fact names the record it came from: "Kind/id", else "Kind/#position" in its list. One
    spelling for every reader, so facts of one record (a drug, its alcohol, its indication) meet."""
    resource_id = as_str(resource_id)
    return f"{kind}/{resource_id}" if resource_id else f"{kind}/#{index}"


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


def first_text(concepts: Iterable[JsonObject], texts: Iterable[str], default: str) -> str:
    """The first text or coding display of the concepts, else the first of ``texts``, else ``default``."""
    for concept in concepts:
        for text in concept_texts(concept):
            return text
    return next(iter(texts), default)


def first_instant(values: Iterable[Any]) -> datetime | None:
    """The first value that parses as a FHIR date/dateTime (shared with orders.py)."""
    for value in values:
        parsed = parse_instant(value)
        if parsed is not None:
            return parsed
    return None


def parse_start(value: Any) -> InfusionStart | None:
    """An order's start: a full date is a date with an unknown time, never midnight UTC.

    A year or year-month alone is too vague to place a hold and reads as unknown.
    """
    text = as_str(value).strip()
    if _DATE_ONLY.match(text):
        try:
            return InfusionStart(day=date.fromisoformat(text))
        except ValueError:
            return None
    if len(text) < 10:
        return None
    moment = parse_instant(text)
    return InfusionStart.instant(moment) if moment is not None else None


def first_start(values: Iterable[Any]) -> InfusionStart | None:
    """The first value that reads as an order start (see ``parse_start``)."""
    for value in values:
        start = parse_start(value)
        if start is not None:
            return start
    return None
