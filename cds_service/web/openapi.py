"""The OpenAPI document: FastAPI's, plus the body schemas of routes that read their own JSON."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from cds_service.cdshooks.models import FeedbackRequest, HookRequest


def json_body(schema: str) -> dict[str, Any]:
    """``openapi_extra`` for a body the route reads itself (the named component is added below)."""
    reference = {"$ref": f"#/components/schemas/{schema}"}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": reference}}}
    }


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the hook and feedback body schemas, built once."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (HookRequest, FeedbackRequest):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    app.openapi_schema = schema
    return schema
