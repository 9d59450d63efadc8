"""Ketamine-order detection in a hook's draftOrders Bundle (order-select focuses on its selections)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cds_service.clinical.fhirjson import (
    as_dict,
    as_list,
    as_str,
    codings,
    concept_texts,
    first_start,
    first_text,
    medication_concepts,
    resolve_reference,
)
from cds_service.clinical.lexicon import KetamineKind, Lexicon
from cds_service.clinical.types import InfusionStart, JsonObject, KetamineOrder

# DSTU2 clients send MedicationOrder; its medication[x] has the same shape as MedicationRequest's.
MEDICATION_ORDER_TYPES = frozenset({"MedicationRequest", "MedicationOrder"})
# STU3/DSTU2 clients send ProcedureRequest where R4 has ServiceRequest.
SERVICE_ORDER_TYPES = frozenset({"ServiceRequest", "ProcedureRequest"})
DEFAULT_DISPLAY = "ketamine infusion"


def unresolved_medication_references(
    draft_orders: JsonObject, selections: tuple[str, ...] | None
) -> tuple[str, ...]:
    """medicationReference values of candidate drafts found neither contained nor in the Bundle."""
    entries = _entries(draft_orders)
    in_bundle = _bundle_medications(entries)
    missing: list[str] = []
    for _, resource in _candidates(entries, selections):
        if as_str(resource.get("resourceType")) not in MEDICATION_ORDER_TYPES:
            continue
        reference = as_str(as_dict(resource.get("medicationReference")).get("reference"))
        if not reference or reference in missing:
            continue
        contained = as_list(resource.get("contained"))
        if resolve_reference(reference, contained, in_bundle) is None:
            missing.append(reference)
    return tuple(missing)


def find_ketamine_orders(
    draft_orders: JsonObject,
    selections: tuple[str, ...] | None,
    lexicon: Lexicon,
    *,
    include_esketamine: bool,
    medications: Mapping[str, JsonObject],
) -> tuple[KetamineOrder, ...]:
    """The draft orders that are ketamine infusions (and esketamine when it is enabled)."""
    entries = _entries(draft_orders)
    known = {**medications, **_bundle_medications(entries)}
    orders: list[KetamineOrder] = []
    for index, resource in _candidates(entries, selections):
        order = _ketamine_order(resource, index, lexicon, known)
        if order is not None and (include_esketamine or not order.esketamine):
            orders.append(order)
    return tuple(orders)


def _entries(draft_orders: Any) -> list[tuple[int, JsonObject]]:
    """(position, entry) for entries holding a resource object (Bundle type and fullUrl optional)."""
    entries = as_list(as_dict(draft_orders).get("entry"))
    return [
        (index, entry)
        for index, entry in enumerate(entries)
        if isinstance(entry, dict) and as_dict(entry.get("resource"))
    ]


def _type_id(resource: JsonObject) -> str:
    return f"{as_str(resource.get('resourceType'))}/{as_str(resource.get('id'))}"


def _bundle_medications(entries: Iterable[tuple[int, JsonObject]]) -> dict[str, JsonObject]:
    """Medication entries keyed by fullUrl and by "Medication/<id>" (Epic sends them beside the order)."""
    found: dict[str, JsonObject] = {}
    for _, entry in entries:
        resource = entry["resource"]
        if resource.get("resourceType") != "Medication":
            continue
        full_url = as_str(entry.get("fullUrl"))
        if full_url:
            found[full_url] = resource
        if as_str(resource.get("id")):
            found[_type_id(resource)] = resource
    return found


def _candidates(
    entries: list[tuple[int, JsonObject]], selections: tuple[str, ...] | None
) -> Iterator[tuple[int, JsonObject]]:
    """(position, resource) of the orders to check: all of them, or on order-select the selections."""
    wanted = None if selections is None else set(selections)
    for index, entry in entries:
        resource: JsonObject = entry["resource"]
        if wanted is None or _type_id(resource) in wanted or entry.get("fullUrl") in wanted:
            yield index, resource


def _ketamine_order(
    resource: JsonObject, index: int, lexicon: Lexicon, medications: Mapping[str, JsonObject]
) -> KetamineOrder | None:
    resource_type = as_str(resource.get("resourceType"))
    if resource_type in MEDICATION_ORDER_TYPES:
        concepts, texts = medication_concepts(resource, medications)
        kind = _kind(concepts, texts, lexicon)
        start = _dosage_start(resource)
    elif resource_type in SERVICE_ORDER_TYPES:
        concepts, texts = [as_dict(resource.get("code"))], []
        kind = _service_kind(concepts[0], lexicon)
        start = _occurrence_start(resource)
    else:
        return None
    if kind is None:
        return None
    resource_id = as_str(resource.get("id"))
    return KetamineOrder(
        reference=f"{resource_type}/{resource_id or '#' + str(index)}",
        resource_type=resource_type,
        display=first_text(concepts, texts, DEFAULT_DISPLAY),
        resource=resource,
        start=start,
        esketamine=kind == "esketamine",
    )


def _kind(
    concepts: Iterable[JsonObject], texts: Iterable[str], lexicon: Lexicon
) -> KetamineKind | None:
    """Ketamine wins over esketamine when a record names both; None when neither."""
    kinds: set[KetamineKind] = set()
    for concept in concepts:
        for coding in codings(concept):
            kind = lexicon.is_ketamine_code(
                as_str(coding.get("system")), as_str(coding.get("code"))
            )
            if kind is not None:
                kinds.add(kind)
        kinds.update(k for k in map(lexicon.ketamine_in_text, concept_texts(concept)) if k)
    kinds.update(k for k in map(lexicon.ketamine_in_text, texts) if k)
    if "ketamine" in kinds:
        return "ketamine"
    return "esketamine" if kinds else None


def _service_kind(code: JsonObject, lexicon: Lexicon) -> KetamineKind | None:
    # A ServiceRequest naming ketamine may be a drug level or a consult: it must also say infusion
    # (one of the manifest's infusion_service_terms, when the manifest lists any).
    kind = _kind([code], [], lexicon)
    if kind is None:
        return None
    texts = " | ".join(concept_texts(code))
    return kind if lexicon.names_infusion_service(texts) else None


def _timing_start(timing: Any) -> InfusionStart | None:
    timing = as_dict(timing)
    events = timing.get("event")
    first_event = events[0] if isinstance(events, list) and events else events
    bounds = as_dict(as_dict(timing.get("repeat")).get("boundsPeriod"))
    return first_start((first_event, bounds.get("start")))


def _dosage_start(resource: JsonObject) -> InfusionStart | None:
    for dosage in as_list(resource.get("dosageInstruction")):
        start = _timing_start(as_dict(dosage).get("timing"))
        if start is not None:
            return start
    return None


def _occurrence_start(resource: JsonObject) -> InfusionStart | None:
    occurrence = (
        resource.get("occurrenceDateTime"),
        as_dict(resource.get("occurrencePeriod")).get("start"),
    )
    return first_start(occurrence) or _timing_start(resource.get("occurrenceTiming"))
