"""From a parsed hook body to a validated ``HookRequest``: which hooks are served, legacy mapping, field errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from cds_service.errors import HookNotServed, HookRequestInvalid
from cds_service.cdshooks.models import (
    HOOK_MEDICATION_PRESCRIBE,
    HOOK_ORDER_SELECT,
    HOOK_ORDER_SIGN,
    HookRequest,
)

SERVED_HOOKS: tuple[str, ...] = (HOOK_ORDER_SELECT, HOOK_ORDER_SIGN, HOOK_MEDICATION_PRESCRIBE)


def parse_hook_request(data: Any) -> HookRequest:
    """Validate a hook call; the error names the first field that is missing or invalid."""
    if not isinstance(data, dict):
        raise HookRequestInvalid("The request body must be a JSON object")
    hook = data.get("hook")
    if not isinstance(hook, str) or not hook:
        raise HookRequestInvalid("Missing or invalid required field 'hook'", field="hook")
    if hook not in SERVED_HOOKS:
        raise HookNotServed(f"This service does not serve the hook '{hook[:64]}'", field="hook")
    context = data.get("context")
    if not isinstance(context, dict):
        raise HookRequestInvalid("Missing or invalid required field 'context'", field="context")
    data = {**data, "context": _context_for(hook, context)}
    try:
        request = HookRequest.model_validate(data)
    except ValidationError as exc:
        raise _field_error(exc) from exc
    _check_fhir_access(request)
    return request


def _context_for(hook: str, context: dict[str, Any]) -> dict[str, Any]:
    if hook == HOOK_MEDICATION_PRESCRIBE:
        # CDS Hooks 1.0: the drafts travel as `medications`; map them onto order-sign's draftOrders path.
        medications = context.get("medications")
        if medications is not None and "draftOrders" not in context:
            context = {**context, "draftOrders": medications}
        return {**context, "selections": None}
    if hook == HOOK_ORDER_SELECT:
        if "selections" not in context:
            raise HookRequestInvalid(
                "Missing required field 'context.selections'", field="context.selections"
            )
        return context
    # order-sign has no selections; ignore one a client adds so that every draft is checked.
    return {**context, "selections": None}


def _check_fhir_access(request: HookRequest) -> None:
    if request.fhirAuthorization is not None and not request.fhirServer:
        raise HookRequestInvalid(
            "'fhirServer' is required when 'fhirAuthorization' is present", field="fhirServer"
        )


def first_error(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """The first validation error as (dotted field path, sentence naming it): one wording everywhere."""
    if not errors:
        return "", "Invalid request"
    first = errors[0]
    field = ".".join(str(part) for part in first.get("loc", ()))
    if first.get("type") == "missing":
        return field, f"Missing required field '{field}'"
    return field, f"Invalid field '{field}': {first.get('msg', 'invalid value')}"


def _field_error(exc: ValidationError) -> HookRequestInvalid:
    field, message = first_error(exc.errors())
    return HookRequestInvalid(message, field=field)
