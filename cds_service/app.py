"""Composition root: ``create_app(settings, kb)`` wires everything; error translation lives here only."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cds_service.auth.authenticator import ClientAuthenticator
from cds_service.auth.replay import ReplayCache, SharedReplayCache
from cds_service.cdshooks.intake import first_error
from cds_service.cdshooks.registry import HookRegistry
from cds_service.errors import (
    AuthenticationFailed,
    ClientDisconnected,
    ConfigurationInvalid,
    DataUnavailable,
    RequestRejected,
    StoreUnavailable,
)
from cds_service.fhir.connections import ServerPools
from cds_service.fhir.gatherer import MedicationGatherer
from cds_service.fhir.outbound import OutboundPolicy
from cds_service.fhir.reader import FetchLimits
from cds_service.logs import configure_logging
from cds_service.ops.metrics import Metrics
from cds_service.ops.transport import MeteredTransport
from cds_service.render.cards import CardRenderer, RenderOptions
from cds_service.render.profiles import ProfileChoice, build_profiles
from cds_service.rules.knowledge import CompiledKnowledgeBase, KnowledgeBase, compile_knowledge_base
from cds_service.rules.loader import load_knowledge_base
from cds_service.service import CdsService, ServiceConfig
from cds_service.settings import Settings
from cds_service.store.opening import check_database_url, open_store_or_degraded
from cds_service.store.records import AuditStore
from cds_service.store.repeats import RepeatFilter
from cds_service.web import ops, routes
from cds_service.web.access import AccessLog
from cds_service.web.body import BodyLimits
from cds_service.web.guard import UnexpectedErrors
from cds_service.web.openapi import openapi_document

log = logging.getLogger("cds_service.app")
CONSOLE_TOKEN_MIN = 32


def create_app(settings: Settings | None = None, kb: KnowledgeBase | None = None) -> FastAPI:
    """Build the service. A bad knowledge-base file raises ``RuleSetInvalid`` here, before serving.

    ``kb`` is a knowledge base already loaded (tests share one); the site's overrides are applied to it.
    """
    settings = settings or Settings()
    configure_logging(settings.log_level)
    kb = kb or load_knowledge_base(settings.cards_dir)
    check_settings(settings, kb)
    compiled = compile_knowledge_base(kb, settings.rule_overrides)
    registry = HookRegistry.discover(settings.service_id)
    metrics = Metrics() if settings.metrics else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The shared client fetches JWKS only; FHIR servers each get a pool of their own.
        async with httpx.AsyncClient(follow_redirects=False) as client:
            pools = ServerPools(
                max_connections=settings.fhir_max_connections, wrap=_metered(metrics)
            )
            store = await open_store_or_degraded(
                settings.effective_database_url,
                timeout_seconds=settings.store_timeout_seconds,
                pool_size=settings.database_pool_size,
            )
            app.state.service = build_service(settings, compiled, pools, store, registry, metrics)
            app.state.edge = _edge(settings, client, store)
            app.state.metrics = metrics
            try:
                yield
            finally:
                await store.close()
                await pools.aclose()

    app = FastAPI(
        title="Ketamine infusion CDS Hooks service",
        version=compiled.manifest.version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    # Inside CORS, so that a 500 carries the CORS headers a browser needs to show it.
    app.add_middleware(UnexpectedErrors, body=json.dumps(_INTERNAL_ERROR).encode())
    if settings.console:
        _mount_console(app, settings, compiled)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept"],
        max_age=600,
    )
    app.add_middleware(AccessLog)  # outermost: preflights answered by CORS are logged too
    app.include_router(routes.router)
    app.include_router(ops.router)
    if metrics is not None:
        app.include_router(ops.metrics_router)
        app.add_middleware(ops.RequestMetering, metrics=metrics)
    _register_error_handlers(app)
    app.openapi = lambda: openapi_document(app, registry)  # type: ignore[method-assign]
    if settings.auth == "off":
        log.warning("CDS_AUTH=off: EHR JWTs are not verified; use only on a trusted network")
    if settings.timezone is None:
        log.warning(
            "CDS_TIMEZONE is not set: card clock times follow each order's own offset, and a UTC "
            "start is shown in UTC; set CDS_TIMEZONE to the site's zone (e.g. America/Chicago)"
        )
    return app


def check_settings(settings: Settings, kb: KnowledgeBase) -> None:
    """Refuse, naming the setting, what would start a service that cannot work as configured."""
    check_database_url(settings.effective_database_url)
    if settings.auth == "jwt" and not settings.trusted_issuers:
        raise ConfigurationInvalid(
            "CDS_TRUSTED_ISSUERS",
            "CDS_AUTH=jwt needs at least one trusted issuer (every call would answer 401)",
        )
    token = settings.console_token.get_secret_value() if settings.console_token else ""
    if settings.console and len(token) < CONSOLE_TOKEN_MIN:
        raise ConfigurationInvalid(
            "CDS_CONSOLE_TOKEN",
            f"CDS_CONSOLE=on needs a secret token of at least {CONSOLE_TOKEN_MIN} characters "
            f"(this one has {len(token)}); e.g. python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'",
        )
    known = {rule.id for rule in kb.rules} | {c.id for c in kb.manifest.combinations}
    for topic in settings.rule_overrides:
        if topic not in known:
            raise ConfigurationInvalid("CDS_RULE_OVERRIDES", _unknown_topic(topic, known))


def _mount_console(app: FastAPI, settings: Settings, kb: CompiledKnowledgeBase) -> None:
    """The rule owners' console under /console. Imported only when it is on: its templates and
    pages are not needed to answer hooks, and a service without it starts faster."""
    from cds_service.console import routes as console_routes
    from cds_service.console.advice import FlagPolicy
    from cds_service.console.gate import ConsoleGate
    from cds_service.console.state import build_console

    # check_settings has refused a console without a token of the minimum length.
    token = settings.console_token.get_secret_value() if settings.console_token else ""
    policy = FlagPolicy(settings.console_flag_override_rate, settings.console_flag_min_cards)
    app.state.console = build_console(
        token,
        kb,
        session_minutes=settings.console_session_minutes,
        policy=policy,
        limits=body_limits(settings),
    )
    app.add_middleware(ConsoleGate, console=app.state.console)
    app.include_router(console_routes.router)


def _unknown_topic(topic: str, known: set[str]) -> str:
    same_case = [k for k in known if k.lower() == topic.lower()]
    hint = f" (did you mean {same_case[0]!r}?)" if same_case else ""
    return f"unknown topic {topic[:40]!r}{hint}; known topics: {', '.join(sorted(known))}"


def build_service(
    settings: Settings,
    kb: CompiledKnowledgeBase,
    pools: ServerPools,
    store: AuditStore,
    registry: HookRegistry | None = None,
    metrics: Metrics | None = None,
) -> CdsService:
    """Wire the use cases from settings; shared by the HTTP app and the command line."""
    gatherer = MedicationGatherer(pools, outbound_policy(settings), fetch_limits(settings))
    options = render_options(settings, kb)
    config = ServiceConfig(
        service_id=settings.service_id,
        include_esketamine=settings.trigger_on_esketamine,
        on_data_unavailable=settings.on_data_unavailable,
        deadline_seconds=settings.evaluation_deadline_seconds,
        profiles=ProfileChoice(options.profiles, settings.ehr_profile),
        previsit_horizon=timedelta(days=settings.previsit_horizon_days),
        checkin_horizon=timedelta(hours=settings.checkin_horizon_hours),
    )
    renderer = CardRenderer(kb, options)
    repeats = RepeatFilter(store, settings.repeat_filter, settings.repeat_window_hours * 3600)
    return CdsService(
        config, kb, renderer, gatherer, store, registry=registry, observer=metrics, repeats=repeats
    )


@asynccontextmanager
async def offline_service(settings: Settings) -> AsyncIterator[CdsService]:
    """The use cases as the HTTP app wires them, with their own store and FHIR pools, for the
    command line (``evaluate``, ``plan``)."""
    loaded = load_knowledge_base(settings.cards_dir)
    check_settings(settings, loaded)
    kb = compile_knowledge_base(loaded, settings.rule_overrides)
    store = await open_store_or_degraded(settings.effective_database_url)
    pools = ServerPools(max_connections=settings.fhir_max_connections)
    try:
        yield build_service(settings, kb, pools, store)
    finally:
        await pools.aclose()
        await store.close()


def outbound_policy(settings: Settings) -> OutboundPolicy:
    """Which FHIR servers may be called: per trusted issuer (JWT mode), else the site's list."""
    per_issuer = {
        iss: issuer.fhir_servers
        for iss, issuer in settings.trusted_issuers.items()
        if issuer.fhir_servers
    }
    listed = bool(settings.fhir_allowlist or per_issuer)
    # `serve` binds loopback only when unauthenticated, unless the site said a gateway is in front.
    local = settings.auth == "off" and not settings.allow_unauthenticated_public_bind
    return OutboundPolicy(
        site=settings.fhir_allowlist,
        per_issuer=per_issuer,
        local_loopback=local and not listed,
        allow_insecure=settings.allow_insecure_fhir,
    )


def fetch_limits(settings: Settings) -> FetchLimits:
    """What one hook call may read from its FHIR server."""
    return FetchLimits(
        timeout_seconds=settings.fhir_timeout_seconds,
        max_pages=settings.fhir_max_pages,
        max_bundle_entries=settings.max_bundle_entries,
        max_response_bytes=settings.fhir_max_response_bytes,
        max_call_bytes=settings.fhir_max_call_bytes,
        max_medication_reads=settings.fhir_max_medication_reads,
        max_concurrent_reads=settings.fhir_max_concurrent_reads,
    )


def render_options(settings: Settings, kb: CompiledKnowledgeBase) -> RenderOptions:
    """Card presentation from the settings, falling back to the knowledge base's manifest."""
    manifest = kb.manifest
    profiles = build_profiles(
        selection_behavior=settings.selection_behavior,
        detail=settings.card_detail,
        link_hosts=settings.link_allowlist,
        preference_codes={str(k): v for k, v in settings.epic_preference_list_codes.items()},
    )
    return RenderOptions(
        source_label=settings.source_label or manifest.source_label,
        source_url=settings.source_url
        or (str(manifest.source_url) if manifest.source_url else None),
        topic_system=manifest.topic_system,
        override_reason_system=manifest.override_reason_system,
        timezone=settings.timezone,
        profiles=profiles,
    )


def body_limits(settings: Settings) -> BodyLimits:
    """The JSON body limits of the HTTP routes and the offline ``evaluate`` command alike."""
    return BodyLimits(
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        max_list_items=settings.max_bundle_entries,
        timeout_seconds=settings.body_timeout_seconds,
    )


def _edge(settings: Settings, client: httpx.AsyncClient, store: AuditStore) -> routes.Edge:
    authenticator = (
        ClientAuthenticator(settings.auth_config, client, replay_cache=_replay(settings, store))
        if settings.auth == "jwt"
        else None
    )
    return routes.Edge(
        limits=body_limits(settings),
        authenticator=authenticator,
        public_base_url=settings.public_base_url,
    )


def _metered(
    metrics: Metrics | None,
) -> Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]:
    """What wraps each FHIR server's transport: the metering one when metrics are on."""
    if metrics is None:
        return lambda transport: transport
    observe = metrics.fhir_request
    return lambda transport: MeteredTransport(transport, observe)


def _replay(settings: Settings, store: AuditStore) -> ReplayCache | None:
    """The shared cache through the store, or None for the authenticator's in-process one."""
    if settings.effective_replay_cache != "store":
        return None
    skew = float(settings.jwt_clock_skew_seconds)
    return SharedReplayCache(store.remember_token, skew_seconds=skew)


# ------------------------------------------------------------------ errors -> HTTP


def operation_outcome(code: str, text: str, *, expression: str | None = None) -> dict[str, Any]:
    """A FHIR OperationOutcome naming the problem (CDS Hooks 3.0 ballot: on every non-2xx answer)."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": text}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


# Unexpected errors are answered by web.guard.UnexpectedErrors (logged once, never re-raised).
_INTERNAL_ERROR = operation_outcome("exception", "Internal error; the event was logged")


def _register_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestRejected)
    async def rejected(_: Request, exc: RequestRejected) -> JSONResponse:
        body = operation_outcome(exc.issue_code, exc.message, expression=exc.field)
        # A body cut short (408) or refused unread (413) leaves bytes on the wire that would be read
        # as the next request: RFC 9110 sections 15.5.9 and 15.5.14 say close the connection.
        headers = {"Connection": "close"} if exc.status_code in (408, 413) else None
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(ClientDisconnected)
    async def disconnected(request: Request, exc: ClientDisconnected) -> Response:
        # Clients give up (a closed tab, a timeout of their own): routine, and nobody reads this.
        log.info("client disconnected mid-body", extra={"path": request.url.path})
        return Response(status_code=400)

    @app.exception_handler(DataUnavailable)
    async def unavailable(_: Request, exc: DataUnavailable) -> JSONResponse:
        log.warning("medication data unavailable", extra={"failures": list(exc.failures)})
        return JSONResponse(operation_outcome("transient", exc.message), status_code=412)

    @app.exception_handler(StoreUnavailable)
    async def store_down(_: Request, exc: StoreUnavailable) -> JSONResponse:
        # Never 200 for what was not stored: the EHR may retry (feedback is idempotent).
        log.error("store unavailable", extra={"reason": exc.message})
        body = operation_outcome("transient", f"Feedback not stored: {exc.message}; retry later")
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})

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
