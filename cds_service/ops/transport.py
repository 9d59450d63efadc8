"""An httpx transport that counts and times the calls to EHR FHIR servers, by outcome only."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

Observe = Callable[[str, float], None]


class MeteredTransport(httpx.AsyncBaseTransport):
    """Wraps the client's transport; FHIR calls are those asking for ``application/fhir+json``
    (the JWKS downloads sharing the client are not counted). Never labels a host, path or status."""

    def __init__(self, inner: httpx.AsyncBaseTransport, observe: Observe) -> None:
        self._inner = inner
        self._observe = observe

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "fhir" not in request.headers.get("accept", ""):
            return await self._inner.handle_async_request(request)
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TimeoutException:
            self._observe("timeout", time.perf_counter() - started)
            raise
        except httpx.TransportError:
            self._observe("unreachable", time.perf_counter() - started)
            raise
        self._observe(_outcome(response.status_code), time.perf_counter() - started)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _outcome(status: int) -> str:
    if status < 300:
        return "ok"
    if status < 500:
        return "client-error"
    return "server-error"
