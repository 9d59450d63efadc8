"""HTTP only: the CDS Hooks routes. Each handler is read -> service -> return; errors map in ``app.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from cds_service.auth.authenticator import ClientAuthenticator, VerifiedClient, expected_audience
from cds_service.cdshooks.models import CdsResponse, Discovery
from cds_service.service import CdsService
from cds_service.web.access import remember_hook_instance
from cds_service.web.body import BodyLimits, read_json
from cds_service.web.openapi import answers, json_body

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Edge:
    """What the routes need besides the service: body limits, the authenticator, the public URL."""

    limits: BodyLimits
    authenticator: ClientAuthenticator | None = None
    public_base_url: str | None = None


# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, a hop that
# cost more per request than the whole hook evaluation on a small medication list.
async def _service(request: Request) -> CdsService:
    service: CdsService = request.app.state.service
    return service


async def _edge(request: Request) -> Edge:
    edge: Edge = request.app.state.edge
    return edge


async def _authenticated(request: Request) -> VerifiedClient | None:
    """Verify the EHR's JWT when CDS_AUTH=jwt (CORS preflight never reaches a route)."""
    edge = await _edge(request)
    if edge.authenticator is None:
        return None
    audience = expected_audience(edge.public_base_url, str(request.base_url), request.url.path)
    return await edge.authenticator.authenticate(request.headers.get("authorization"), audience)


ServiceDep = Annotated[CdsService, Depends(_service)]
EdgeDep = Annotated[Edge, Depends(_edge)]
Authenticated = Depends(_authenticated)


@router.get("/health", tags=["operations"], responses=answers(500))
async def health(service: ServiceDep) -> dict[str, str]:
    """Liveness and the knowledge-base version in use; no authentication, no patient data."""
    return {"status": "ok", "knowledgeBase": service.kb.manifest.version}


@router.get(
    "/cds-services",
    response_model=Discovery,
    response_model_exclude_none=True,
    dependencies=[Authenticated],
    responses=answers(401, 500),
)
async def discovery(service: ServiceDep) -> Discovery:
    return service.discovery()


@router.post(
    "/cds-services/{service_id}",
    openapi_extra=json_body("HookRequest"),
    responses={
        200: {"description": "Cards (an empty list when nothing applies)", "model": CdsResponse},
        **answers(400, 401, 404, 408, 412, 413, 415, 500),
    },
)
async def call_service(service_id: str, request: Request) -> Response:
    # The clinician waits on this route, so it reads app.state itself rather than through dependency
    # injection (measured: resolving the dependencies was ~5% of a 10-medication call), and pydantic
    # writes the JSON bytes directly.
    caller = await _authenticated(request)
    service = await _service(request)
    service.check_service(service_id)
    payload = await read_json(request, (await _edge(request)).limits)
    remember_hook_instance(request.state, payload)
    issuer = caller.iss if caller is not None else None
    response = await service.evaluate(service_id, payload, issuer=issuer)
    return Response(response.to_json_bytes(), media_type="application/json")


@router.post(
    "/cds-services/{service_id}/feedback",
    dependencies=[Authenticated],
    openapi_extra=json_body("FeedbackRequest"),
    response_class=Response,
    responses={
        200: {"description": "Feedback stored (idempotently)"},
        **answers(400, 401, 404, 408, 413, 415, 500, 503),
    },
)
async def feedback(
    service_id: str, request: Request, service: ServiceDep, edge: EdgeDep
) -> Response:
    service.check_service(service_id)
    payload = await read_json(request, edge.limits)
    await service.feedback(service_id, payload)
    return Response(status_code=200)
