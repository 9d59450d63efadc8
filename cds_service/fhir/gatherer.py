"""Medication data access: prefetch when the EHR sent it, the FHIR server otherwise, gaps when neither."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import httpx

from cds_service.cdshooks.models import HookRequest
from cds_service.cdshooks.prefetch import (
    MEDICATION_KEYS,
    PrefetchQuery,
    key_shape,
    render_query,
)
from cds_service.clinical.types import (
    DataGap,
    JsonObject,
    MedicationData,
    Origin,
    SourcedResource,
    sourced_records,
)
from cds_service.errors import DataUnavailable, FhirError, FhirFatalError, NotFhirJson, NotSupported
from cds_service.fhir import bundle as fb
from cds_service.fhir import urls
from cds_service.fhir.connections import ServerPools
from cds_service.fhir.outbound import OutboundPolicy
from cds_service.fhir.reader import TIMED_OUT, UNREADABLE, CallReader, FetchLimits, MedicationReads

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


@dataclass(slots=True)
class _KeyResult:
    """What one prefetch key yielded: records, Medications, gaps, or a failure when nothing was read."""

    what: str
    resources: list[SourcedResource] = field(default_factory=list)
    medications: dict[str, JsonObject] = field(default_factory=dict)
    references: dict[str, None] = field(default_factory=dict)  # medicationReference values, ordered
    gaps: list[DataGap] = field(default_factory=list)
    pages: int = 0
    failure: str | None = None
    unsupported: bool = False  # the server has no such type: empty, yet nothing was read

    def gap(self, reason: str) -> None:
        self.gaps.append(DataGap(what=self.what, reason=reason))


class MedicationGatherer:
    """Gathers the patient's MedicationStatements and MedicationRequests for one hook request."""

    def __init__(
        self, pools: ServerPools, policy: OutboundPolicy, limits: FetchLimits | None = None
    ) -> None:
        self._pools = pools
        self._policy = policy
        self._limits = limits or FetchLimits()
        self._max_entries = self._limits.max_bundle_entries
        self._unsupported_logged: set[tuple[str, str]] = set()
        _redact_httpx_log()

    async def gather(
        self,
        request: HookRequest,
        *,
        deadline: float,
        issuer: str | None = None,
        context_keys: Sequence[str] = (),
    ) -> MedicationData:
        """Every medication source for the request; raises DataUnavailable when none could be read.

        ``issuer`` is the verified caller (JWT mode): it decides which FHIR servers may be named.
        ``context_keys`` are read beside them (``CONTEXT_KEYS``); one that fails is only a data gap.
        """
        keys = (*MEDICATION_KEYS, *context_keys)
        async with self._session(request, issuer) as (reader, refusal):
            everything = self._complete_prefetch(request, keys)
            if everything is None:
                everything = await asyncio.gather(
                    *(self._gather_key(request, k, reader, refusal, deadline) for k in keys)
                )
            results = everything[: len(MEDICATION_KEYS)]
            if all(r.failure or r.unsupported for r in results):
                # One type unsupported is an empty list (Epic has no R4 MedicationStatement); none read
                # at all (a wrong fhirServer base answers 404 to both) must not pass as "no medications".
                failures = [f"{r.what}: {r.failure or _UNSUPPORTED}" for r in results]
                raise DataUnavailable(
                    "No medication source could be read: " + "; ".join(failures),
                    failures=tuple(failures),
                )
            data = await self._assemble(results, reader, deadline)
            return _with_context(data, context_keys, everything[len(MEDICATION_KEYS) :])

    async def gather_keys(
        self,
        request: HookRequest,
        keys: Sequence[str],
        *,
        deadline: float,
        issuer: str | None = None,
    ) -> MedicationData:
        """Only ``keys`` (no medication list): their resources in ``context``, failures as gaps.

        Read before the medications when a hook decides from them whether to check at all (the
        appointments of patient-view); nothing here raises ``DataUnavailable``.
        """
        async with self._session(request, issuer) as (reader, refusal):
            results = self._complete_prefetch(request, keys)
            if results is None:
                results = await asyncio.gather(
                    *(self._gather_key(request, k, reader, refusal, deadline) for k in keys)
                )
        return _with_context(MedicationData(resources=()), keys, results)

    def _complete_prefetch(
        self, request: HookRequest, keys: Sequence[str]
    ) -> list[_KeyResult] | None:
        """The results without any task or I/O when every key came as a whole, single-page Bundle
        (or null): the usual prefetch case. None sends the request down the general path."""
        prefetch = request.prefetch or {}
        results: list[_KeyResult] = []
        for key in keys:
            what, resource_type = key_shape(key)
            result = _KeyResult(what=what)
            value = prefetch.get(key, fb.MISSING)
            if value is not None:
                page = fb.prefetched_page(value, resource_type, self._max_entries)
                if page is None or page.next_url is not None or page.dropped:
                    return None
                self._take(result, page, key, Origin.PREFETCH)
            results.append(result)
        return results

    async def read_medications(
        self,
        request: HookRequest,
        references: Sequence[str],
        *,
        deadline: float,
        issuer: str | None = None,
    ) -> dict[str, JsonObject]:
        """Reads referenced Medications concurrently; keyed by the reference and ``Medication/<id>``."""
        async with self._session(request, issuer) as (reader, _):
            if reader is None:
                return {}
            return (await reader.read_medications(references, deadline)).found

    @asynccontextmanager
    async def _session(
        self, request: HookRequest, issuer: str | None
    ) -> AsyncIterator[tuple[CallReader | None, str]]:
        """This call's reader of its FHIR server, or None and why the server may not be called."""
        if not request.fhirServer:
            yield None, _NO_SERVER
            return
        target = self._policy.target(request.fhirServer, issuer)
        if isinstance(target, str):
            log.warning("fhirServer %s refused: %s", urls.host_and_path(request.fhirServer), target)
            yield None, target
            return
        headers = {"Accept": "application/fhir+json"}
        if request.fhirAuthorization is not None:
            headers["Authorization"] = f"Bearer {request.fhirAuthorization.access_token}"
        async with self._pools.lease(target) as client:
            yield CallReader(client, target.base, headers, self._limits), ""

    # ------------------------------------------------------------ one prefetch key

    async def _gather_key(
        self,
        request: HookRequest,
        key: str,
        reader: CallReader | None,
        refusal: str,
        deadline: float,
    ) -> _KeyResult:
        query = render_query(key, request.context.patientId)
        result = _KeyResult(what=query.what)
        try:
            async with asyncio.timeout_at(deadline):
                await self._fill(result, request, query, reader, refusal)
        except TimeoutError:
            self._fail(result, TIMED_OUT)
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
        reader: CallReader | None,
        refusal: str,
    ) -> None:
        value = (request.prefetch or {}).get(query.key, fb.MISSING)
        if value is None:  # CDS Hooks: null means the client found no data; do not query again
            return
        first = fb.prefetched_page(value, query.resource_type, self._max_entries)
        origin = Origin.PREFETCH
        if first is None:
            if reader is None:
                self._no_server(value, query, refusal)
                result.unsupported = True
                return
            body = await self._search(reader, query)
            if body is None:
                result.unsupported = True
                return
            first = self._page(body, query.resource_type, self._max_entries)
            origin = Origin.FHIR_SERVER
        await self._follow(result, first, query, reader, origin)

    def _no_server(self, value: object, query: PrefetchQuery, refusal: str) -> None:
        if fb.says_not_supported(value):
            self._log_unsupported("the EHR", query.resource_type)
            return
        if fb.is_outcome(value):
            message = f"the EHR could not prefetch it (OperationOutcome) and {refusal}"
            raise FhirFatalError(message)
        raise FhirFatalError(f"not in prefetch and {refusal}")

    async def _follow(
        self,
        result: _KeyResult,
        page: fb.BundlePage,
        query: PrefetchQuery,
        reader: CallReader | None,
        origin: Origin,
    ) -> None:
        while True:
            self._take(result, page, query.key, origin)
            stop = self._stop_reason(result, page, reader)
            if stop is not None or reader is None or page.next_url is None:
                if stop:
                    result.gap(stop)
                return
            remaining = self._max_entries - len(result.resources)
            body = await reader.get(urls.resolve(page.next_url, reader.base) or "")  # checked above
            page = self._page(body, query.resource_type, remaining)

    def _take(self, result: _KeyResult, page: fb.BundlePage, key: str, origin: Origin) -> None:
        result.pages += 1
        result.resources.extend(sourced_records(page.resources, origin, key))
        result.medications.update(page.medications)
        result.references.update(dict.fromkeys(page.references))

    def _stop_reason(
        self, result: _KeyResult, page: fb.BundlePage, reader: CallReader | None
    ) -> str | None:
        if page.dropped:
            cap = self._max_entries
            return f"more than {cap} entries, only the first {cap} read"
        if page.next_url is None:
            return ""
        if result.pages >= self._limits.max_pages:
            cap = self._limits.max_pages
            return f"more than {cap} pages, only the first {cap} read"
        if reader is None:
            return "more pages exist but there is no usable fhirServer to read them from"
        link = urls.resolve(page.next_url, reader.base)
        if link is None:
            return "the next-page link is not a URL; not followed"
        if not urls.same_origin(link, reader.base):
            return "the next-page link points at another server; not followed with the token"
        return None

    def _page(self, body: JsonObject, resource_type: str, limit: int) -> fb.BundlePage:
        try:
            return fb.read_page(body, resource_type, limit)
        except NotFhirJson as exc:
            log.warning("FHIR search answer unusable: %s", exc.message)
            raise FhirFatalError(UNREADABLE) from exc

    async def _search(self, reader: CallReader, query: PrefetchQuery) -> JsonObject | None:
        """The first search page, or None when the server does not support the type."""
        try:
            return await reader.get(f"{reader.base}/{query.relative_url}")
        except FhirFatalError as exc:
            if isinstance(exc, NotSupported) or exc.status_code == 404:
                self._log_unsupported(urls.host_and_path(reader.base), query.resource_type)
                return None
            raise

    def _log_unsupported(self, where: str, resource_type: str) -> None:
        if (where, resource_type) not in self._unsupported_logged:
            self._unsupported_logged.add((where, resource_type))
            log.info("%s does not support %s; treated as empty", where, resource_type)

    # ------------------------------------------------------------ assembly

    async def _assemble(
        self, results: Sequence[_KeyResult], reader: CallReader | None, deadline: float
    ) -> MedicationData:
        medications: dict[str, JsonObject] = {}
        references: dict[str, None] = {}
        for result in results:
            medications.update(result.medications)
            references.update(result.references)
        resources = tuple(r for result in results for r in result.resources)
        gaps = [g for result in results for g in result.gaps]
        gaps += [DataGap(r.what, r.failure) for r in results if r.failure]
        # Only the Medications neither prefetched, contained nor _included are read.
        wanted = [ref for ref in references if ref not in medications]
        if wanted and reader is not None:
            reads = await reader.read_medications(wanted, deadline)
            medications.update(reads.found)
            gaps += _medication_gaps(reads, self._limits.max_medication_reads)
        return MedicationData(resources=resources, medications=medications, gaps=tuple(gaps))


_MEDICATIONS = "referenced Medication resources"


def _with_context(
    data: MedicationData, keys: Sequence[str], results: Sequence[_KeyResult]
) -> MedicationData:
    """The medication data with the context keys' resources beside it, their failures as gaps."""
    if not keys:
        return data
    context = {
        key: tuple(sourced.resource for sourced in result.resources)
        for key, result in zip(keys, results, strict=True)
    }
    records = {key: tuple(result.resources) for key, result in zip(keys, results, strict=True)}
    by_key = {key: _key_gaps(result) for key, result in zip(keys, results, strict=True)}
    return replace(
        data,
        context=context,
        context_records=records,
        context_gaps={key: gaps for key, gaps in by_key.items() if gaps},
    )


def _key_gaps(result: _KeyResult) -> tuple[DataGap, ...]:
    gaps = list(result.gaps)
    if result.failure:
        gaps.append(DataGap(result.what, result.failure))
    elif result.unsupported:
        gaps.append(DataGap(result.what, _UNSUPPORTED))
    return tuple(gaps)


def _medication_gaps(reads: MedicationReads, cap: int) -> list[DataGap]:
    """A counted gap for the references not read (over the cap) and for the reads that failed."""
    gaps: list[DataGap] = []
    if reads.skipped:
        reason = (
            f"{reads.skipped:,} of {reads.wanted:,} not read (at most {cap:,} are read per call)"
        )
        gaps.append(DataGap(_MEDICATIONS, reason))
    if reads.failures:
        count = f"{len(reads.failures):,} of {reads.wanted:,}"
        gaps.append(DataGap(_MEDICATIONS, f"{count} could not be read: {reads.failures[0]}"))
    return gaps
