"""What goes back to the client in an update must be valid R4: the client's draft, repaired. Pure.

Real clients send imperfect drafts (the CDS Hooks Sandbox sends ``category``, ``reasonCode`` and
``note`` as one object where R4 has an array). An update replaces the resource, so echoing such a field
back sends the client an invalid MedicationRequest. A lone object where a list belongs is wrapped; a
field that still fails validation is dropped at the deepest point the validator names; a draft missing
what R4 requires (status, intent, subject, medication) cannot be repaired and gets no update.
"""

from __future__ import annotations

import copy
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from cds_service.clinical.types import JsonObject

_MODELS: dict[str, Any] = {
    "MedicationRequest": MedicationRequest,
    "ServiceRequest": ServiceRequest,
    "Appointment": Appointment,
}
MAX_PASSES = 4
Path = tuple[str | int, ...]


def validation_errors(resource: JsonObject) -> list[Any] | None:
    """The R4B validation errors of a resource; None when it is valid or of a type we do not check."""
    model = _MODELS.get(str(resource.get("resourceType")))
    if model is None:
        return None
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
