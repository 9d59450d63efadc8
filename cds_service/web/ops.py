"""Operations routes: ``/ready`` (knowledge base and store), ``/metrics``, and request metering."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.errors import StoreUnavailable
from cds_service.ops.metrics import CONTENT_TYPE, Metrics
from cds_service.service import CdsService
from cds_service.web.openapi import answers

router = APIRouter()
metrics_router = APIRouter()
_METHODS = frozenset({"GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH"})


@router.get(
    "/ready",
    tags=["operations"],
    responses={503: {"description": "Not ready: the body names the failing check"}, **answers(500)},
)
async def ready(request: Request) -> JSONResponse:
    """Readiness: the knowledge base is loaded and the store takes writes; 503 otherwise."""
    service: CdsService = request.app.state.service
    checks = {"knowledgeBase": "ok" if service.kb.interaction_rules else "no active rules"}
    try:
        await service.store.check()
        checks["store"] = "ok"
    except StoreUnavailable as exc:
        checks["store"] = exc.message
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if healthy else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


@metrics_router.get(
    "/metrics", tags=["operations"], response_class=Response, responses=answers(500)
)
async def metrics(request: Request) -> Response:
    """Prometheus text format (``CDS_METRICS=on``); no authentication, no patient data."""
    series: Metrics = request.app.state.metrics
    return Response(series.exposition(), media_type=CONTENT_TYPE)


class RequestMetering:
    """ASGI middleware: every HTTP answer counted and timed by route template, method and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.http_request(
                _route(scope), _method(scope), status, time.perf_counter() - started
            )


def _route(scope: Scope) -> str:
    # The template ("/cds-services/{service_id}"), never the path: a path may carry anything.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _method(scope: Scope) -> str:
    method = str(scope.get("method", ""))
    return method if method in _METHODS else "OTHER"
