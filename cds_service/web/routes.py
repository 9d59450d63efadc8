"""HTTP only: the CDS Hooks routes. Each handler is read -> service -> return; errors map in ``app.py``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from cds_service.auth.authenticator import ClientAuthenticator, expected_audience
from cds_service.errors import PayloadTooLarge, UnsupportedMediaType
from cds_service.cdshooks.models import Discovery
from cds_service.web.body import parse_json
from cds_service.service import CdsService
from cds_service.settings import Settings

router = APIRouter()


# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, a hop that
# cost more per request than the whole hook evaluation on a small medication list.
async def _service(request: Request) -> CdsService:
    service: CdsService = request.app.state.service
    return service


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _authenticated(request: Request) -> None:
    """Verify the EHR's JWT when CDS_AUTH=jwt (CORS preflight never reaches a route)."""
    authenticator: ClientAuthenticator | None = request.app.state.authenticator
    if authenticator is None:
        return
    settings = await _settings(request)
    audience = expected_audience(settings.public_base_url, str(request.base_url), request.url.path)
    await authenticator.authenticate(request.headers.get("authorization"), audience)


ServiceDep = Annotated[CdsService, Depends(_service)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Authenticated = Depends(_authenticated)


async def read_json(request: Request, settings: Settings) -> Any:
    """The body as JSON, refusing non-JSON content types and bodies over the configured size."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not '{content_type[:80]}'"
        )
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body larger than {limit} bytes")
    return parse_json(
        bytes(body),
        max_depth=settings.max_json_depth,
        max_list_items=settings.max_bundle_entries,
    )


def _json_body(schema: str) -> dict[str, Any]:
    """OpenAPI for a body the route reads itself (``app.py`` adds the named component schema)."""
    reference = {"$ref": f"#/components/schemas/{schema}"}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": reference}}}
    }


@router.get("/health", tags=["operations"])
async def health(service: ServiceDep) -> dict[str, str]:
    """Liveness and the knowledge-base version in use; no authentication, no patient data."""
    return {"status": "ok", "knowledgeBase": service.kb.manifest.version}


@router.get(
    "/cds-services",
    response_model=Discovery,
    response_model_exclude_none=True,
    dependencies=[Authenticated],
)
async def discovery(service: ServiceDep) -> Discovery:
    return service.discovery()


@router.post(
    "/cds-services/{service_id}",
    openapi_extra=_json_body("HookRequest"),
    responses={200: {"description": "Cards (an empty list when nothing applies)"}},
)
async def call_service(service_id: str, request: Request) -> Response:
    # The clinician waits on this route, so it reads app.state itself rather than through dependency
    # injection (measured: resolving the dependencies was ~5% of a 10-medication call), and pydantic
    # writes the JSON bytes directly.
    await _authenticated(request)
    service = await _service(request)
    service.check_service(service_id)
    payload = await read_json(request, await _settings(request))
    response = await service.evaluate(service_id, payload)
    return Response(response.to_json_bytes(), media_type="application/json")


@router.post(
    "/cds-services/{service_id}/feedback",
    dependencies=[Authenticated],
    openapi_extra=_json_body("FeedbackRequest"),
    response_class=Response,
    responses={200: {"description": "Feedback stored (idempotently)"}},
)
async def feedback(
    service_id: str, request: Request, service: ServiceDep, settings: SettingsDep
) -> Response:
    service.check_service(service_id)
    payload = await read_json(request, settings)
    await service.feedback(service_id, payload)
    return Response(status_code=200)
