"""What goes back to the client in an update must be valid R4: the client's draft, repaired. Pure.

Real clients send imperfect drafts (the CDS Hooks Sandbox sends ``category``, ``reasonCode`` and
``note`` as one object where R4 has an array). An update replaces the resource, so echoing such a field
back sends the client an invalid MedicationRequest. A lone object where a list belongs is wrapped; a
field that still fails validation is dropped at the deepest point the validator names; a draft missing
what R4 requires (status, intent, subject, medication) cannot be repaired and gets no update.

Validating a draft with fhir.resources costs ~0.08 ms, on every call with a hold. The verdict is
memoised on the draft without its per-request fields (id, subject, encounter, requester, authoredOn,
the dosage's timing events or the occurrence, an appointment's start and end), so that drafts of one
orderable share it. Those
are stood in by fixed valid values for the memoised validation, and each is checked with its own
field's validator: R4B validates them independently of the rest (their presence, which the choice-type
checks read, is kept), so "the rest is valid and each of them is valid" is exactly "the draft is
valid". Anything else takes the full validation, so repair sees the same errors.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, get_args

import orjson
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.fhirtypes import ReferenceType
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.timing import Timing
from pydantic import TypeAdapter, ValidationError

from cds_service.clinical.types import JsonObject

_MODELS: dict[str, Any] = {
    "MedicationRequest": MedicationRequest,
    "ServiceRequest": ServiceRequest,
    "Appointment": Appointment,
}
MAX_PASSES = 4
Path = tuple[str | int, ...]


# Per-request fields, each with a valid stand-in: a JSON string (id, dateTime) or a Reference.
_PLACEHOLDERS: dict[str, Any] = {
    "id": "placeholder",
    "authoredOn": "2026-01-01",
    "subject": {"reference": "Patient/placeholder"},
    "encounter": {"reference": "Encounter/placeholder"},
    "requester": {"reference": "Practitioner/placeholder"},
    "occurrenceDateTime": "2026-01-01",
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-01-01T01:00:00Z",
}
_FIELD_CHECKS: dict[tuple[str, str], TypeAdapter[Any]] = {
    (name, key): TypeAdapter(model.model_fields[key].annotation)
    for name, model in _MODELS.items()
    for key in _PLACEHOLDERS
    if key in model.model_fields
}


def _is_reference(annotation: Any) -> bool:
    return annotation is ReferenceType or ReferenceType in get_args(annotation)


# A Reference that is only {"reference": "<string>"} (how EHRs send subject, encounter, requester) is
# valid exactly when the string is a valid FHIR string: R4B's Reference checks its fields' types, and its
# model checks read only which fields are present (nulls in lists, required and choice fields, none
# here), never the reference's value. So that one field's own type answers; its full model costs about
# 25 us per call in a real call (a test holds this path's verdict to R4B's on generated strings).
_REFERENCE_TYPE: Any = Reference.model_fields["reference"].annotation
_REFERENCE_STRING: TypeAdapter[Any] = TypeAdapter(_REFERENCE_TYPE)
# The fields that are a Reference (optional or not): only they take that path.
_REFERENCE_FIELDS = frozenset(
    (kind, key)
    for kind, key in _FIELD_CHECKS
    if _is_reference(_MODELS[kind].model_fields[key].annotation)
)
# A dosage's timing events are the order's own times: stood in too, the rest of the dosage is kept.
_EVENT_STAND_IN = "2026-01-01T00:00:00Z"
_EVENT_TYPE: Any = Timing.model_fields["event"].annotation
_EVENTS: TypeAdapter[Any] = TypeAdapter(_EVENT_TYPE)


def validation_errors(resource: JsonObject) -> list[Any] | None:
    """The R4B validation errors of a resource; None when it is valid or of a type we do not check."""
    kind = str(resource.get("resourceType"))
    model = _MODELS.get(kind)
    if model is None:
        return None
    if _known_valid(kind, resource):
        return None
    return _full_validation_errors(model, resource)


def _known_valid(kind: str, resource: JsonObject) -> bool:
    rest = dict(resource)
    varying = {}
    for key, stand_in in _PLACEHOLDERS.items():
        value = rest.get(key)
        if (kind, key) in _FIELD_CHECKS and type(value) is type(stand_in):
            varying[key] = rest.pop(key)
    events = _stand_in_event_times(rest) if kind == "MedicationRequest" else []
    try:
        canonical = orjson.dumps(rest, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError: not plain JSON (e.g. an int beyond 64 bits)
        return False
    if not _rest_is_valid(kind, canonical, tuple(sorted(varying))):
        return False
    try:
        for name, value in varying.items():
            plain = type(value) is dict and len(value) == 1 and type(value.get("reference")) is str
            if plain and (kind, name) in _REFERENCE_FIELDS:
                _REFERENCE_STRING.validate_python(value["reference"])
            else:
                _FIELD_CHECKS[kind, name].validate_python(value)
        for times in events:
            _EVENTS.validate_python(times)
    except ValidationError:
        return False
    return True


def _stand_in_event_times(rest: JsonObject) -> list[list[str]]:
    """Swap each dosage's ``timing.event`` strings for stand-ins (same count); return the originals."""
    dosages = rest.get("dosageInstruction")
    if not isinstance(dosages, list):
        return []
    found: list[list[str]] = []
    kept: list[Any] = []
    for dosage in dosages:
        timing = dosage.get("timing") if isinstance(dosage, dict) else None
        events = timing.get("event") if isinstance(timing, dict) else None
        if (
            isinstance(timing, dict)
            and isinstance(events, list)
            and events
            and all(type(e) is str for e in events)
        ):
            found.append(events)
            dosage = {**dosage, "timing": {**timing, "event": [_EVENT_STAND_IN] * len(events)}}
        kept.append(dosage)
    rest["dosageInstruction"] = kept
    return found


@lru_cache(maxsize=256)
def _rest_is_valid(kind: str, rest: bytes, varying: tuple[str, ...]) -> bool:
    resource = orjson.loads(rest) | {key: _PLACEHOLDERS[key] for key in varying}
    return _full_validation_errors(_MODELS[kind], resource) is None


def _full_validation_errors(model: Any, resource: JsonObject) -> list[Any] | None:
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return list(exc.errors())
    return None


def is_valid(resource: JsonObject) -> bool:
    """Whether an R4 resource validates with its fhir.resources R4B model (unknown types: no check)."""
    return validation_errors(resource) is None


def repaired(resource: JsonObject) -> JsonObject | None:
    """A valid copy of the client's resource (the original is never changed), or None."""
    errors = validation_errors(resource)
    if errors is None:
        return resource
    fixed = copy.deepcopy(resource)
    for _ in range(MAX_PASSES):
        if not _repair_pass(fixed, errors):
            return None
        errors = validation_errors(fixed)
        if errors is None:
            return fixed
    return None


def _repair_pass(data: JsonObject, errors: list[Any]) -> bool:
    # Deepest and last first, so that removing an item never shifts the path of another.
    paths = sorted({tuple(error.get("loc", ())): error for error in errors}.items(), reverse=True)
    for path, error in paths:
        if not path or "missing" in str(error.get("type")):
            return False  # a required field is absent: repairing would mean inventing data
        _repair_at(data, path, str(error.get("type")))
    return True


def _repair_at(data: JsonObject, path: Path, kind: str) -> None:
    parent: Any = data
    for step in path[:-1]:
        parent = _child(parent, step)
        if parent is None:
            return
    leaf = path[-1]
    value = _child(parent, leaf)
    if kind == "list_type" and isinstance(value, dict):
        parent[leaf] = [value]
    elif isinstance(parent, dict) and leaf in parent:
        del parent[leaf]
    elif isinstance(parent, list) and isinstance(leaf, int) and leaf < len(parent):
        del parent[leaf]


def _child(node: Any, step: str | int) -> Any:
    if isinstance(node, dict) and isinstance(step, str):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and step < len(node):
        return node[step]
    return None
