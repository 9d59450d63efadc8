"""The OpenAPI document: FastAPI's, plus the body schemas of routes that read their own JSON, every
answer a route gives (errors as OperationOutcomes) and the rules each hook's context follows."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from cds_service.cdshooks.models import FeedbackRequest, HookRequest
from cds_service.cdshooks.registry import HookRegistry

_REF = "#/components/schemas/{model}"
# What a hook's preparer does beyond its context model: fields it requires, fields it ignores, and
# the legacy name it also accepts for one (tests/web/test_openapi.py checks each rule against the
# real intake, so the document cannot drift from the behaviour).
CONTEXT_RULES: dict[str, dict[str, Any]] = {
    "order-select": {"required": ["selections"]},
    "order-sign": {"ignored": ["selections"]},
    "medication-prescribe": {"ignored": ["selections"], "aliases": {"medications": "draftOrders"}},
}


class OperationOutcomeIssue(BaseModel):
    severity: Literal["error"]
    code: str
    diagnostics: str
    expression: list[str] | None = None


class OperationOutcome(BaseModel):
    """The body of every error answer but 401 (a bare 401 leaks nothing about the check failed)."""

    resourceType: Literal["OperationOutcome"]
    issue: list[OperationOutcomeIssue]


_ERRORS = {
    400: "Malformed JSON; a missing or invalid field (named in issue.expression); a hook not served",
    401: "CDS_AUTH=jwt and the JWT is missing or fails a check (no body; the reason is logged)",
    404: "No CDS service with this id",
    408: "The request body did not arrive within CDS_BODY_TIMEOUT_SECONDS",
    412: "A ketamine order, but no medication list could be read (the kind of failure is named)",
    413: "Body, JSON nesting or a list over its limit",
    415: "A content type that is not JSON",
    500: "An unexpected error (logged with its hookInstance; no internals in the answer)",
    503: "The store could not take the feedback: nothing was stored, retry later (Retry-After)",
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route, for its ``responses=``."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        documented[code] = {"description": _ERRORS[code]}
        if code != 401:
            documented[code]["model"] = OperationOutcome
    return documented


def json_body(schema: str) -> dict[str, Any]:
    """``openapi_extra`` for a body the route reads itself (the named component is added below)."""
    reference = {"$ref": _REF.format(model=schema)}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": reference}}}
    }


def openapi_document(app: FastAPI, registry: HookRegistry) -> dict[str, Any]:
    """FastAPI's document plus the hook and feedback body schemas, built once."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    models: list[type[BaseModel]] = [HookRequest, FeedbackRequest, *_context_models(registry)]
    for model in models:
        _add(components, model)
    _describe_hook_rules(components["HookRequest"], registry)
    _drop_unused_validation_errors(schema)
    _bound_integers(components)
    # Feedback times must fall in the years 1-9999 once converted to UTC; only on the two edge days
    # can an offset cross that line, so the document leaves those days out.
    components["FeedbackItem"]["properties"]["outcomeTimestamp"]["pattern"] = (
        "^(?!0001-01-01|9999-12-31)"
    )
    app.openapi_schema = schema
    return schema


def _context_models(registry: HookRegistry) -> list[type[BaseModel]]:
    return list(dict.fromkeys(spec.context_model for spec in registry.hooks.values()))


def _add(components: dict[str, Any], model: type[BaseModel]) -> None:
    model_schema = model.model_json_schema(ref_template=_REF)
    components.update(model_schema.pop("$defs", {}))
    components[model.__name__] = model_schema


def _describe_hook_rules(hook_request: dict[str, Any], registry: HookRegistry) -> None:
    """The hooks served, each one's context, and fhirAuthorization only with a fhirServer."""
    hook_request["properties"]["hook"]["enum"] = sorted(registry.hooks)
    hook_request["allOf"] = [
        _FHIR_AUTHORIZATION_NEEDS_SERVER,
        *(_hook_rule(name, spec.context_model) for name, spec in sorted(registry.hooks.items())),
    ]


_FHIR_AUTHORIZATION_NEEDS_SERVER = {
    "if": {
        "required": ["fhirAuthorization"],
        "properties": {"fhirAuthorization": {"type": "object"}},
    },
    "then": {
        "required": ["fhirServer"],
        "properties": {"fhirServer": {"type": "string", "minLength": 1}},
    },
}
# orjson reads integers of at most 64 bits (larger ones become floats, refused as integers).
_INTEGER_RANGE = {"minimum": -(2**63), "maximum": 2**64 - 1}


def _bound_integers(node: object) -> None:
    if isinstance(node, dict):
        if node.get("type") == "integer":
            node.update({k: v for k, v in _INTEGER_RANGE.items() if k not in node})
        for child in node.values():
            _bound_integers(child)
    elif isinstance(node, list):
        for child in node:
            _bound_integers(child)


def _hook_rule(name: str, context_model: type[BaseModel]) -> dict[str, Any]:
    """JSON Schema ``if hook == name then context follows that hook's model and rules``."""
    return {
        "if": {"properties": {"hook": {"const": name}}, "required": ["hook"]},
        "then": {
            "properties": {"context": _context_schema(context_model, CONTEXT_RULES.get(name, {}))}
        },
    }


def _context_schema(model: type[BaseModel], rules: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    schema.pop("$defs", None)
    properties: dict[str, Any] = schema["properties"]
    required = [*schema.get("required", []), *rules.get("required", [])]
    for field in rules.get("ignored", []):
        properties.pop(field, None)  # any value passes: the preparer drops it
    for alias, field in rules.get("aliases", {}).items():
        properties[alias] = properties[field]
        required.remove(field)
        schema["anyOf"] = [{"required": [field]}, {"required": [alias]}]
    schema["required"] = required
    return schema


def _drop_unused_validation_errors(schema: dict[str, Any]) -> None:
    # FastAPI documents a 422 per route with parameters; validation errors here are answered 400.
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
