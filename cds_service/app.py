"""Composition root: ``create_app(settings)`` builds the FastAPI app; error translation lives here only."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cds_service.web import routes as api
from cds_service.store.sqlite import AuditStore, SqliteAuditStore
from cds_service.auth.authenticator import ClientAuthenticator
from cds_service.errors import (
    AuthenticationFailed,
    DataUnavailable,
    InternalError,
    RequestRejected,
)
from cds_service.fhir.gatherer import MedicationGatherer
from cds_service.cdshooks.models import FeedbackRequest, HookRequest
from cds_service.cdshooks.intake import first_error
from cds_service.clinical.lexicon import Lexicon
from cds_service.logs import configure_logging
from cds_service.render.cards import RenderOptions
from cds_service.rules.engine import SitePolicy
from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.loader import load_knowledge_base
from cds_service.service import CdsService, ServiceConfig
from cds_service.settings import Settings

log = logging.getLogger("cds_service.app")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service. A bad knowledge-base file raises ``RuleSetInvalid`` here, before serving."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    kb = load_knowledge_base(settings.cards_dir)
    lexicon = Lexicon.from_knowledge_base(kb)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=settings.fhir_max_connections)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
            store = SqliteAuditStore.open(settings.effective_database_url)
            app.state.service = build_service(settings, kb, lexicon, client, store)
            app.state.authenticator = (
                ClientAuthenticator(settings, client) if settings.auth == "jwt" else None
            )
            # Everything built so far (models, schemas, the knowledge base) lives as long as the
            # process: move it out of the collector's generations, so that a full collection
            # triggered by a large request body walks only request objects.
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()
                await store.close()

    app = FastAPI(
        title="Ketamine infusion CDS Hooks service",
        version=kb.manifest.version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.authenticator = None
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept"],
        max_age=600,
    )
    app.include_router(api.router)
    _register_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    if settings.auth == "off":
        log.warning("CDS_AUTH=off: EHR JWTs are not verified; use only on a trusted network")
    return app


def build_service(
    settings: Settings,
    kb: KnowledgeBase,
    lexicon: Lexicon,
    client: httpx.AsyncClient,
    store: AuditStore,
) -> CdsService:
    """Wire the use cases from settings; shared by the HTTP app and the command line."""
    gatherer = MedicationGatherer(
        client,
        timeout_seconds=settings.fhir_timeout_seconds,
        max_pages=settings.fhir_max_pages,
        allow_insecure_fhir=settings.allow_insecure_fhir,
        max_bundle_entries=settings.max_bundle_entries,
    )
    config = ServiceConfig(
        service_id=settings.service_id,
        include_esketamine=settings.trigger_on_esketamine,
        on_data_unavailable=settings.on_data_unavailable,
        deadline_seconds=settings.evaluation_deadline_seconds,
        render=RenderOptions(
            source_label=settings.source_label or kb.manifest.source_label,
            source_url=settings.source_url
            or (str(kb.manifest.source_url) if kb.manifest.source_url else None),
            topic_system=kb.manifest.topic_system,
            override_reason_system=kb.manifest.override_reason_system,
            selection_behavior=settings.selection_behavior,
            timezone=settings.timezone,
            patient_id="",
        ),
        policy=SitePolicy(overrides=settings.rule_overrides),
    )
    return CdsService(config, kb, lexicon, gatherer, store)


# ------------------------------------------------------------------ errors -> HTTP


def operation_outcome(code: str, text: str, *, expression: str | None = None) -> dict[str, Any]:
    """A FHIR OperationOutcome naming the problem (CDS Hooks 3.0 ballot: on every non-2xx answer)."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": text}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def _register_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestRejected)
    async def rejected(_: Request, exc: RequestRejected) -> JSONResponse:
        body = operation_outcome(exc.issue_code, exc.message, expression=exc.field)
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(DataUnavailable)
    async def unavailable(_: Request, exc: DataUnavailable) -> JSONResponse:
        log.warning("medication data unavailable", extra={"failures": list(exc.failures)})
        return JSONResponse(operation_outcome("transient", exc.message), status_code=412)

    @app.exception_handler(AuthenticationFailed)
    async def unauthenticated(_: Request, exc: AuthenticationFailed) -> Response:
        # Best practice: a bare 401; the reason goes to the log with iss and jti, never the token.
        log.warning(
            "authentication failed", extra={"reason": exc.reason, "iss": exc.iss, "jti": exc.jti}
        )
        return Response(status_code=401)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        field, message = first_error(exc.errors())
        body = operation_outcome("invalid", message, expression=field or None)
        return JSONResponse(body, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not-found" if exc.status_code == 404 else "not-supported"
        return JSONResponse(
            operation_outcome(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, InternalError):  # InternalError was logged with its hookInstance
            log.error("unexpected error", exc_info=exc)
        return JSONResponse(
            operation_outcome("exception", "Internal error; the event was logged"),
            status_code=500,
        )


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the hook and feedback body schemas (the routes read bodies themselves)."""
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
