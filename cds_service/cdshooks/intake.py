"""From a parsed hook body to a validated ``HookRequest``: which hooks are served, field errors named."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cds_service.cdshooks.models import HookContext, HookRequest
from cds_service.cdshooks.registry import HookRegistry, HookSpec
from cds_service.errors import HookRequestInvalid


@dataclass(frozen=True, slots=True)
class HookCall:
    """A validated hook call: its hook, the request, and why it is answered unchecked (if it is)."""

    spec: HookSpec
    request: HookRequest
    empty_reason: str | None = None


def parse_hook_request(data: Any, registry: HookRegistry, service_id: str) -> HookCall:
    """Validate a call to ``service_id`` with its hook's context model; errors name the first bad field."""
    if not isinstance(data, dict):
        raise HookRequestInvalid("The request body must be a JSON object")
    hook = data.get("hook")
    if not isinstance(hook, str) or not hook:
        raise HookRequestInvalid("Missing or invalid required field 'hook'", field="hook")
    spec = registry.spec_for(service_id, hook)
    context = data.get("context")
    if not isinstance(context, dict):
        raise HookRequestInvalid("Missing or invalid required field 'context'", field="context")
    empty_reason = spec.answer_empty(context)
    # A context answered unchecked is still validated for what every hook carries.
    model = HookContext if empty_reason else spec.context_model
    try:
        parsed = model.model_validate(context if empty_reason else spec.prepare(context))
    except ValidationError as exc:
        raise _field_error(exc, "context") from exc
    try:
        request = HookRequest.model_validate({**data, "context": parsed})
    except ValidationError as exc:
        raise _field_error(exc) from exc
    _check_fhir_access(request)
    return HookCall(spec, request, empty_reason)


def _check_fhir_access(request: HookRequest) -> None:
    if request.fhirAuthorization is not None and not request.fhirServer:
        raise HookRequestInvalid(
            "'fhirServer' is required when 'fhirAuthorization' is present", field="fhirServer"
        )


def first_error(errors: Sequence[Mapping[str, Any]], prefix: str = "") -> tuple[str, str]:
    """The first validation error as (dotted field path, sentence naming it): one wording everywhere."""
    if not errors:
        return "", "Invalid request"
    first = errors[0]
    parts = [prefix] if prefix else []
    field = ".".join([*parts, *(str(part) for part in first.get("loc", ()))])
    if first.get("type") == "missing":
        return field, f"Missing required field '{field}'"
    return field, f"Invalid field '{field}': {first.get('msg', 'invalid value')}"


def _field_error(exc: ValidationError, prefix: str = "") -> HookRequestInvalid:
    field, message = first_error(exc.errors(), prefix)
    return HookRequestInvalid(message, field=field)
