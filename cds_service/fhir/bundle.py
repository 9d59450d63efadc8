"""Lenient reading of FHIR answers (Bundles, OperationOutcomes) and server URLs; plain dicts, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson

from cds_service.clinical.types import JsonObject
from cds_service.errors import FhirFatalError, FhirTemporaryError, NotFhirJson, NotSupported
from cds_service.fhir.urls import same_origin

NOT_SUPPORTED = "not-supported"
MISSING: object = object()  # a prefetch key the EHR left out


@dataclass(frozen=True, slots=True)
class BundlePage:
    """What one searchset page holds for the service."""

    resources: tuple[JsonObject, ...]
    medications: Mapping[str, JsonObject] = field(default_factory=dict)
    next_url: str | None = None
    dropped: int = 0  # entries of the searched type beyond the size limit
    # medicationReference values of the records kept that point outside them (not #contained),
    # collected in the same walk so that nothing walks the records again to find them
    references: tuple[str, ...] = ()


def read_page(body: object, resource_type: str, limit: int) -> BundlePage:
    """The entries of ``resource_type`` (at most ``limit``), Medication entries and the next link."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise NotFhirJson(f"expected a Bundle, got {describe(body)}")
    entries = body.get("entry") or []
    if not isinstance(entries, list):
        raise NotFhirJson("Bundle.entry is not a list")
    resources: list[JsonObject] = []
    medications: dict[str, JsonObject] = {}
    references: dict[str, None] = {}
    dropped = 0
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        if kind == resource_type and len(resources) < limit:
            resources.append(resource)
            if "medicationReference" in resource:
                references.update(dict.fromkeys(medication_references((resource,))))
        elif kind == resource_type:
            dropped += 1
        elif kind == "Medication":
            medications.update(medication_keys(resource, entry.get("fullUrl")))
    return BundlePage(tuple(resources), medications, next_link(body), dropped, tuple(references))


def next_link(bundle: Mapping[str, object]) -> str | None:
    """The Bundle's ``next`` page URL, if any."""
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url:
                return url
    return None


def medication_keys(resource: JsonObject, full_url: object = None) -> dict[str, JsonObject]:
    """Every reference form that may point at this Medication: ``Medication/<id>`` and its fullUrl."""
    keys: dict[str, JsonObject] = {}
    rid = resource.get("id")
    if isinstance(rid, str) and rid:
        keys[f"Medication/{rid}"] = resource
    if isinstance(full_url, str) and full_url:
        keys[full_url] = resource
    return keys


def is_resource(body: object) -> bool:
    """A JSON object that names its FHIR resourceType."""
    return isinstance(body, dict) and isinstance(body.get("resourceType"), str)


def is_outcome(body: object) -> bool:
    return isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"


def says_not_supported(body: object) -> bool:
    """An OperationOutcome with an issue coded ``not-supported``."""
    return is_outcome(body) and NOT_SUPPORTED in _issue_field(body, "code")


def outcome_text(body: object) -> str | None:
    """The OperationOutcome's diagnostics (or details.text), joined; None when it says nothing."""
    if not is_outcome(body):
        return None
    texts = _issue_field(body, "diagnostics")
    return "; ".join(texts) if texts else None


def _issue_field(body: object, name: str) -> list[str]:
    issues = body.get("issue") if isinstance(body, dict) else None
    if not isinstance(issues, list):
        return []
    values = (issue.get(name) for issue in issues if isinstance(issue, dict))
    return [value for value in values if isinstance(value, str) and value]


def medication_references(resources: Iterable[JsonObject]) -> list[str]:
    """``medicationReference.reference`` values that point outside the resource (not ``#contained``)."""
    found: dict[str, None] = {}  # ordered and deduplicated in linear time (thousands may come)
    for resource in resources:
        ref = resource.get("medicationReference")
        value = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(value, str) and value and not value.startswith("#"):
            found[value] = None
    return list(found)


def medication_url(reference: str, base: str) -> str | None:
    """Where to read a referenced Medication on ``base``; None for references it cannot serve."""
    if reference.startswith("Medication/") and reference.count("/") == 1:
        return f"{base}/{reference}"
    if same_origin(reference, base) and "/Medication/" in urlsplit(reference).path:
        return reference
    return None


def describe(body: object) -> str:
    """A short, data-free description of a JSON value, for error messages."""
    if isinstance(body, dict):
        kind = body.get("resourceType")
        return kind if isinstance(kind, str) else "a JSON object without resourceType"
    return f"a JSON {type(body).__name__}"


# ---------------------------------------------------------------- answers


def prefetched_page(value: object, resource_type: str, limit: int) -> BundlePage | None:
    """A prefetched Bundle as a page; None when the key is missing, an OperationOutcome or malformed."""
    if value is MISSING or not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return None
    try:
        return read_page(value, resource_type, limit)
    except NotFhirJson:
        return None


def answer_body(status: int, content: bytes) -> JsonObject:
    """The response's FHIR resource, or the FhirError that says what was wrong with it."""
    try:
        body: object = orjson.loads(content)  # several times json's speed; nesting bounded at 1024
    except orjson.JSONDecodeError:
        body = None
    text = outcome_text(body)
    if says_not_supported(body):
        raise NotSupported(f"FHIR server answered {status}", status_code=status, outcome_text=text)
    if status == 429 or status >= 500:
        raise FhirTemporaryError(
            f"FHIR server answered {status}", status_code=status, outcome_text=text
        )
    if status >= 300:
        raise FhirFatalError(
            f"FHIR server answered {status}", status_code=status, outcome_text=text
        )
    if body is None:
        raise FhirFatalError("FHIR server sent a body that is not JSON", status_code=status)
    if not is_resource(body) or not isinstance(body, dict):
        raise FhirFatalError(
            "FHIR server sent JSON that is not a FHIR resource", status_code=status
        )
    if is_outcome(body):
        message = "FHIR server answered with an OperationOutcome"
        raise FhirFatalError(message, status_code=status, outcome_text=text)
    return body
