"""Benchmark servers: the bare FastAPI baseline and a FHIR server that answers after a fixed delay.

Run as ``python -m cds_service.bench.servers bare|fhir --port P``, under the same uvicorn settings as
``cds-service serve``, so the only difference the benchmark sees is the service's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from cds_service.bench import payload as bench_payload

Sleep = Callable[[float], Awaitable[None]]
FHIR_JSON = "application/fhir+json"
# Bases on the delayed FHIR server: histories that name their drugs inline, and ones that reference
# Medication resources the service must read in a second round of requests.
INLINE_BASE = "/inline"
REFERENCED_BASE = "/referenced"
REFERENCED_MEDICATIONS = 3


def create_bare_app() -> FastAPI:
    """The thinnest endpoint that reads the same JSON body and answers ``{"cards": []}``.

    It parses with the standard library's ``json.loads`` (what ``request.json()`` does), the
    baseline the issue's figures use."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/cds-services/{service_id}")
    async def call(service_id: str, request: Request) -> JSONResponse:
        json.loads(await request.body())
        return JSONResponse({"cards": []})

    return app


def create_fhir_app(size: int, delay_s: float, sleep: Sleep = asyncio.sleep) -> FastAPI:
    """A FHIR server with ``size`` history records that waits ``delay_s`` before every answer."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.requests = 0
    bodies = {base: _searchsets(size, referenced=base == REFERENCED_BASE) for base in _BASES}

    async def answer(body: Any, status: int = 200) -> Response:
        app.state.requests += 1
        await sleep(delay_s)
        return Response(json.dumps(body), status_code=status, media_type=FHIR_JSON)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/requests")
    async def requests() -> dict[str, int]:
        """How many FHIR requests were answered so far (the benchmark counts them per call)."""
        return {"requests": app.state.requests}

    @app.get("/{base}/{resource_type}")
    async def search(base: str, resource_type: str, request: Request) -> Response:
        bundles = bodies.get(f"/{base}", {})
        if resource_type not in bundles:
            return await answer(_outcome("not-supported"), status=404)
        bundle = bundles[resource_type]
        if request.query_params.get("_include") == f"{resource_type}:medication":
            bundle = with_included_medications(bundle)
        return await answer(bundle)

    @app.get("/{base}/Medication/{medication_id}")
    async def read(base: str, medication_id: str) -> Response:
        return await answer(medication(medication_id))

    return app


_BASES = (INLINE_BASE, REFERENCED_BASE)


def _searchsets(size: int, *, referenced: bool) -> dict[str, Any]:
    statements, requests = bench_payload.history(size)
    if referenced:
        for index, record in enumerate(statements[:REFERENCED_MEDICATIONS]):
            record.pop("medicationCodeableConcept", None)
            record.pop("contained", None)
            record["medicationReference"] = {"reference": f"Medication/bench-med-{index}"}
    return {
        "MedicationStatement": bench_payload.searchset(statements),
        "MedicationRequest": bench_payload.searchset(requests),
        # The patient's context (Conditions, social history, blood pressure): none recorded.
        "Condition": bench_payload.searchset([]),
        "Observation": bench_payload.searchset([]),
    }


def with_included_medications(bundle: dict[str, Any]) -> dict[str, Any]:
    """The searchset plus every Medication its records reference (``_include``, search mode include)."""
    referenced: dict[str, None] = {}
    for entry in bundle["entry"]:
        reference = entry["resource"].get("medicationReference", {}).get("reference", "")
        if reference.startswith("Medication/"):
            referenced[reference.split("/", 1)[1]] = None
    included = [{"resource": medication(rid), "search": {"mode": "include"}} for rid in referenced]
    return {**bundle, "entry": [*bundle["entry"], *included]} if included else bundle


def medication(medication_id: str) -> dict[str, Any]:
    """A Medication resource (clonazepam, so a referenced record still produces a card)."""
    code, display, _, _ = bench_payload.INTERACTING[0]
    return {
        "resourceType": "Medication",
        "id": medication_id,
        "code": {"coding": [{"system": bench_payload.RXNORM, "code": code, "display": display}]},
    }


def _outcome(code: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code}]}


def _bare_factory() -> FastAPI:
    return create_bare_app()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one benchmark app under uvicorn, with ``cds-service serve``'s settings."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="cds_service.bench.servers")
    parser.add_argument("kind", choices=("bare", "fhir"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.1)
    args = parser.parse_args(argv)
    host = "127.0.0.1"
    if args.kind == "fhir":
        uvicorn.run(
            create_fhir_app(args.size, args.delay), host=host, port=args.port, log_level="warning"
        )
    elif args.workers > 1:
        target = "cds_service.bench.servers:_bare_factory"
        uvicorn.run(
            target,
            factory=True,
            host=host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
        )
    else:
        uvicorn.run(create_bare_app(), host=host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
