"""Medication data access: prefetch when the EHR sent it, the FHIR server otherwise, gaps when neither."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from cds_service.cdshooks.models import HookRequest
from cds_service.cdshooks.prefetch import MEDICATION_KEYS, PrefetchQuery, render_query
from cds_service.clinical.types import DataGap, JsonObject, MedicationData, Origin, SourcedResource
from cds_service.errors import (
    DataUnavailable,
    FhirError,
    FhirFatalError,
    FhirTemporaryError,
    NotFhirJson,
    NotSupported,
)
from cds_service.fhir import bundle as fb
from cds_service.fhir import urls

log = logging.getLogger("cds_service.fhir.gatherer")

_NO_SERVER = "no fhirServer given"
_UNSUPPORTED = "the FHIR server does not support this resource type"


class _RedactQuery(logging.Filter):
    """Cuts the query string (it carries the patient id) from httpx's own request log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) > 1:
            url = record.args[1]
            if isinstance(url, httpx.URL) and url.query:
                record.args = (record.args[0], url.copy_with(query=None), *record.args[2:])
        return True


def _redact_httpx_log() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactQuery) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactQuery())


@dataclass(frozen=True, slots=True)
class _Server:
    """The request's FHIR server; lives for one request only, so the token is never kept."""

    base: str
    headers: Mapping[str, str] = field(repr=False)


@dataclass(slots=True)
class _KeyResult:
    """What one prefetch key yielded: records, Medications, gaps, or a failure when nothing was read."""

    what: str
    resources: list[SourcedResource] = field(default_factory=list)
    medications: dict[str, JsonObject] = field(default_factory=dict)
    gaps: list[DataGap] = field(default_factory=list)
    pages: int = 0
    failure: str | None = None
    unsupported: bool = False  # the server has no such type: empty, yet nothing was read

    def gap(self, reason: str) -> None:
        self.gaps.append(DataGap(what=self.what, reason=reason))


class MedicationGatherer:
    """Gathers the patient's MedicationStatements and MedicationRequests for one hook request."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float,
        max_pages: int,
        allow_insecure_fhir: bool,
        max_bundle_entries: int,
    ) -> None:
        self._client = client
        self._timeout_seconds = timeout_seconds
        self._timeout = httpx.Timeout(timeout_seconds)
        self._max_pages = max_pages
        self._allow_insecure = allow_insecure_fhir
        self._max_entries = max_bundle_entries
        self._unsupported_logged: set[tuple[str, str]] = set()
        _redact_httpx_log()

    async def gather(self, request: HookRequest, *, deadline: float) -> MedicationData:
        """Every medication source for the request; raises DataUnavailable when none could be read."""
        server, refusal = self._server(request)
        results = self._complete_prefetch(request)
        if results is None:
            results = await asyncio.gather(
                *(self._gather_key(request, k, server, refusal, deadline) for k in MEDICATION_KEYS)
            )
        if all(r.failure or r.unsupported for r in results):
            # One type unsupported is an empty list (Epic has no R4 MedicationStatement); none read
            # at all (a wrong fhirServer base answers 404 to both) must not pass as "no medications".
            failures = [f"{r.what}: {r.failure or _UNSUPPORTED}" for r in results]
            raise DataUnavailable(
                "No medication source could be read: " + "; ".join(failures),
                failures=tuple(failures),
            )
        return await self._assemble(results, server, deadline)

    def _complete_prefetch(self, request: HookRequest) -> list[_KeyResult] | None:
        """The results without any task or I/O when every key came as a whole, single-page Bundle
        (or null): the usual prefetch case. None sends the request down the general path."""
        prefetch = request.prefetch or {}
        results: list[_KeyResult] = []
        for key in MEDICATION_KEYS:
            query = render_query(key, request.context.patientId)
            result = _KeyResult(what=f"{query.resource_type} list")
            value = prefetch.get(key, fb.MISSING)
            if value is not None:
                page = fb.prefetched_page(value, query.resource_type, self._max_entries)
                if page is None or page.next_url is not None or page.dropped:
                    return None
                self._take(result, page, key, Origin.PREFETCH)
            results.append(result)
        return results

    async def read_medications(
        self, request: HookRequest, references: Sequence[str], *, deadline: float
    ) -> dict[str, JsonObject]:
        """Reads referenced Medications concurrently; keyed by the reference and ``Medication/<id>``."""
        server, _ = self._server(request)
        if server is None:
            return {}
        found, _failures = await self._read_all(server, references, deadline)
        return found

    # ------------------------------------------------------------ one prefetch key

    async def _gather_key(
        self,
        request: HookRequest,
        key: str,
        server: _Server | None,
        refusal: str,
        deadline: float,
    ) -> _KeyResult:
        query = render_query(key, request.context.patientId)
        result = _KeyResult(what=f"{query.resource_type} list")
        try:
            async with asyncio.timeout_at(deadline):
                await self._fill(result, request, query, server, refusal)
        except TimeoutError:
            self._fail(result, "the evaluation deadline passed before the FHIR server answered")
        except FhirError as exc:
            self._fail(result, exc.message)
        return result

    def _fail(self, result: _KeyResult, reason: str) -> None:
        if result.pages:
            result.gap(f"only {result.pages} page(s) read: {reason}")
        else:
            result.failure = reason

    async def _fill(
        self,
        result: _KeyResult,
        request: HookRequest,
        query: PrefetchQuery,
        server: _Server | None,
        refusal: str,
    ) -> None:
        value = (request.prefetch or {}).get(query.key, fb.MISSING)
        if value is None:  # CDS Hooks: null means the client found no data; do not query again
            return
        first = fb.prefetched_page(value, query.resource_type, self._max_entries)
        origin = Origin.PREFETCH
        if first is None:
            if server is None:
                self._no_server(value, query, refusal)
                result.unsupported = True
                return
            body = await self._search(server, query)
            if body is None:
                result.unsupported = True
                return
            first = self._page(body, query.resource_type, self._max_entries)
            origin = Origin.FHIR_SERVER
        await self._follow(result, first, query, server, origin)

    def _no_server(self, value: object, query: PrefetchQuery, refusal: str) -> None:
        if fb.says_not_supported(value):
            self._log_unsupported("the EHR", query.resource_type)
            return
        if fb.is_outcome(value):
            message = f"the EHR could not prefetch it (OperationOutcome) and {refusal}"
            raise FhirFatalError(message, outcome_text=fb.outcome_text(value))
        raise FhirFatalError(f"not in prefetch and {refusal}")

    async def _follow(
        self,
        result: _KeyResult,
        page: fb.BundlePage,
        query: PrefetchQuery,
        server: _Server | None,
        origin: Origin,
    ) -> None:
        while True:
            self._take(result, page, query.key, origin)
            stop = self._stop_reason(result, page, server)
            if stop is not None or server is None or page.next_url is None:
                if stop:
                    result.gap(stop)
                return
            remaining = self._max_entries - len(result.resources)
            body = await self._get(server, urls.resolve(page.next_url, server.base))
            page = self._page(body, query.resource_type, remaining)

    def _take(self, result: _KeyResult, page: fb.BundlePage, key: str, origin: Origin) -> None:
        result.pages += 1
        result.resources.extend(SourcedResource(r, origin, key) for r in page.resources)
        result.medications.update(page.medications)

    def _stop_reason(
        self, result: _KeyResult, page: fb.BundlePage, server: _Server | None
    ) -> str | None:
        if page.dropped:
            cap = self._max_entries
            return f"more than {cap} entries, only the first {cap} read"
        if page.next_url is None:
            return ""
        if result.pages >= self._max_pages:
            cap = self._max_pages
            return f"more than {cap} pages, only the first {cap} read"
        if server is None:
            return "more pages exist but there is no usable fhirServer to read them from"
        if not urls.same_origin(urls.resolve(page.next_url, server.base), server.base):
            return "the next-page link points at another server; not followed with the token"
        return None

    def _page(self, body: JsonObject, resource_type: str, limit: int) -> fb.BundlePage:
        try:
            return fb.read_page(body, resource_type, limit)
        except NotFhirJson as exc:
            raise FhirFatalError(f"FHIR server sent {exc}") from exc

    # ------------------------------------------------------------ HTTP

    async def _search(self, server: _Server, query: PrefetchQuery) -> JsonObject | None:
        """The first search page, or None when the server does not support the type."""
        try:
            return await self._get(server, f"{server.base}/{query.relative_url}")
        except FhirFatalError as exc:
            if isinstance(exc, NotSupported) or exc.status_code == 404:
                self._log_unsupported(urls.host_and_path(server.base), query.resource_type)
                return None
            raise

    async def _read_all(
        self, server: _Server, references: Sequence[str], deadline: float
    ) -> tuple[dict[str, JsonObject], list[str]]:
        urls = {ref: url for ref in references if (url := fb.medication_url(ref, server.base))}
        try:
            async with asyncio.timeout_at(deadline):
                outcomes = await asyncio.gather(
                    *(self._read_medication(server, url) for url in urls.values()),
                    return_exceptions=True,
                )
        except TimeoutError:
            return {}, ["the evaluation deadline passed before the FHIR server answered"]
        found: dict[str, JsonObject] = {}
        failures: list[str] = []
        for ref, outcome in zip(urls, outcomes, strict=True):
            if isinstance(outcome, FhirError):
                failures.append(outcome.message)
            elif isinstance(outcome, dict):
                found.update(fb.medication_keys(outcome, ref))
        return found, failures

    async def _read_medication(self, server: _Server, url: str) -> JsonObject:
        body = await self._get(server, url)
        if body.get("resourceType") != "Medication":
            raise FhirFatalError(f"FHIR server sent {fb.describe(body)} for a Medication read")
        return body

    async def _get(self, server: _Server, url: str) -> JsonObject:
        """One GET against the request's FHIR server, failures translated to FhirError."""
        try:
            response = await self._client.get(url, headers=server.headers, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise self._logged(
                url, FhirTemporaryError(f"FHIR server timed out after {self._timeout_seconds} s")
            ) from exc
        except httpx.HTTPError as exc:
            message = f"FHIR server could not be reached ({type(exc).__name__})"
            raise self._logged(url, FhirTemporaryError(message)) from exc
        try:
            return fb.answer_body(response.status_code, response.content)
        except FhirError as exc:
            raise self._logged(url, exc) from None

    def _logged(self, url: str, exc: FhirError) -> FhirError:
        log.warning("FHIR GET %s failed: %s", urls.host_and_path(url), exc.message)
        return exc

    def _log_unsupported(self, where: str, resource_type: str) -> None:
        if (where, resource_type) not in self._unsupported_logged:
            self._unsupported_logged.add((where, resource_type))
            log.info("%s does not support %s; treated as empty", where, resource_type)

    # ------------------------------------------------------------ assembly

    def _server(self, request: HookRequest) -> tuple[_Server | None, str]:
        if not request.fhirServer:
            return None, _NO_SERVER
        refusal = urls.refusal_reason(request.fhirServer, allow_insecure=self._allow_insecure)
        if refusal is not None:
            return None, refusal
        headers = {"Accept": "application/fhir+json"}
        if request.fhirAuthorization is not None:
            headers["Authorization"] = f"Bearer {request.fhirAuthorization.access_token}"
        return _Server(base=request.fhirServer.rstrip("/"), headers=headers), ""

    async def _assemble(
        self, results: Sequence[_KeyResult], server: _Server | None, deadline: float
    ) -> MedicationData:
        medications: dict[str, JsonObject] = {}
        for result in results:
            medications.update(result.medications)
        resources = tuple(r for result in results for r in result.resources)
        gaps = [g for result in results for g in result.gaps]
        gaps += [DataGap(r.what, r.failure) for r in results if r.failure]
        wanted = [
            ref
            for ref in fb.medication_references(r.resource for r in resources)
            if ref not in medications
        ]
        if wanted and server is not None:
            found, failures = await self._read_all(server, wanted, deadline)
            medications.update(found)
            if failures:
                gaps.append(DataGap("referenced Medication resources", failures[0]))
        return MedicationData(resources=resources, medications=medications, gaps=tuple(gaps))
