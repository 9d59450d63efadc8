"""One hook call's reads from its FHIR server, bounded in number, concurrency, bytes and time.

What the caller sees of a failure is only its kind ("did not answer in time"); the status, the
exception type and the address go to the log with the host and path, never the query or the token.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from cds_service.clinical.types import JsonObject
from cds_service.errors import FhirError, FhirFatalError, FhirTemporaryError
from cds_service.fhir import bundle as fb
from cds_service.fhir import urls
from cds_service.fhir.connections import AddressRefused

log = logging.getLogger("cds_service.fhir.reader")

TIMED_OUT = "the EHR's FHIR server did not answer in time"
UNREACHABLE = "the EHR's FHIR server could not be reached"
UNREADABLE = "the EHR's FHIR server's answer could not be read"
TOO_LARGE = "the EHR's FHIR server's answer was larger than this service reads"
ADDRESS_REFUSED = "the fhirServer's address is not one this service may call"
# A Medication is a small resource; a large one is a hostile answer, and up to
# max_medication_reads of them are kept for the whole call.
MAX_MEDICATION_BYTES = 256_000


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """What one hook call may read from its FHIR server (the ``CDS_FHIR_*`` settings)."""

    timeout_seconds: float = 2.0
    max_pages: int = 10
    max_bundle_entries: int = 5_000
    max_response_bytes: int = 5_000_000
    max_call_bytes: int = 20_000_000
    max_medication_reads: int = 200
    max_concurrent_reads: int = 8


@dataclass(slots=True)
class MedicationReads:
    """What a batch of Medication reads yielded, keyed by reference and ``Medication/<id>``."""

    found: dict[str, JsonObject] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    wanted: int = 0  # references this server can serve
    skipped: int = 0  # beyond max_medication_reads: not read at all


class _TooLarge(Exception):
    pass


class CallReader:
    """GETs against one call's FHIR server: at most N at a time, each answer and the call capped."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base: str,
        headers: Mapping[str, str],
        limits: FetchLimits,
    ) -> None:
        self.base = base
        self._client = client
        self._headers = {**headers, "Accept-Encoding": "gzip, deflate"}
        self._limits = limits
        self._slots = asyncio.Semaphore(limits.max_concurrent_reads)
        self._budget = limits.max_call_bytes

    async def get(self, url: str, *, max_bytes: int | None = None) -> JsonObject:
        """The FHIR resource at ``url``; FhirError naming only the kind of failure."""
        async with self._slots:
            try:
                async with asyncio.timeout(self._limits.timeout_seconds):
                    status, content = await self._fetch(url, max_bytes)
            except TimeoutError:
                raise self._failed(url, FhirTemporaryError(TIMED_OUT), "timed out") from None
            except AddressRefused as exc:
                raise self._failed(url, FhirFatalError(ADDRESS_REFUSED), exc.reason) from None
            except _TooLarge:
                raise self._failed(url, FhirFatalError(TOO_LARGE), "over the byte cap") from None
            except httpx.InvalidURL as exc:  # a next link the server wrote
                raise self._failed(url, FhirFatalError(UNREADABLE), _name(exc)) from None
            except httpx.DecodingError as exc:
                raise self._failed(url, FhirFatalError(UNREADABLE), str(exc)) from None
            except httpx.TimeoutException as exc:
                raise self._failed(url, FhirTemporaryError(TIMED_OUT), _name(exc)) from None
            except httpx.HTTPError as exc:
                raise self._failed(url, FhirTemporaryError(UNREACHABLE), _name(exc)) from None
        try:
            return fb.answer_body(status, content)
        except FhirError as exc:
            kind = type(exc)(UNREADABLE, status_code=exc.status_code)
            raise self._failed(url, kind, exc.message) from None

    async def read_medications(self, references: Sequence[str], deadline: float) -> MedicationReads:
        """Reads up to ``max_medication_reads`` referenced Medications, concurrently, until the deadline."""
        wanted = {ref: url for ref in references if (url := fb.medication_url(ref, self.base))}
        chosen = list(wanted.items())[: self._limits.max_medication_reads]
        reads = MedicationReads(wanted=len(wanted), skipped=len(wanted) - len(chosen))
        if not chosen:
            return reads
        tasks = [asyncio.ensure_future(self._read_medication(url)) for _, url in chosen]
        timeout = max(deadline - asyncio.get_running_loop().time(), 0)
        try:
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            if pending:
                where = urls.host_and_path(self.base)
                log.warning("%d Medication reads on %s missed the deadline", len(pending), where)
        finally:
            for task in tasks:
                task.cancel()  # a no-op on those done; the rest missed the deadline
        for (ref, _), task in zip(chosen, tasks, strict=True):
            _collect(reads, ref, task if task in done else None)
        return reads

    async def _read_medication(self, url: str) -> JsonObject:
        body = await self.get(url, max_bytes=MAX_MEDICATION_BYTES)
        if body.get("resourceType") != "Medication":
            detail = f"{fb.describe(body)} for a Medication read"
            raise self._failed(url, FhirFatalError(UNREADABLE), detail)
        return body

    # ------------------------------------------------------------ bytes

    async def _fetch(self, url: str, max_bytes: int | None) -> tuple[int, bytes]:
        cap = min(max_bytes or self._limits.max_response_bytes, self._limits.max_response_bytes)
        async with self._client.stream("GET", url, headers=self._headers) as response:
            inflater = _inflater(response.headers.get("content-encoding", ""))
            declared = response.headers.get("content-length", "")
            if inflater is None and declared.isdigit() and int(declared) > cap:
                raise _TooLarge
            body = bytearray()
            async for raw in response.aiter_raw():
                room = min(cap - len(body), self._budget)
                chunk = inflater.feed(raw, room) if inflater is not None else raw
                body += chunk
                self._budget -= len(chunk)
                if len(body) > cap or self._budget < 0:
                    raise _TooLarge
            return response.status_code, bytes(body)

    def _failed(self, url: str, exc: FhirError, detail: str) -> FhirError:
        log.warning("FHIR GET %s failed: %s", urls.host_and_path(url), detail)
        return exc


def _collect(reads: MedicationReads, ref: str, task: asyncio.Future[JsonObject] | None) -> None:
    if task is None:
        reads.failures.append(TIMED_OUT)
        return
    error = task.exception()
    if isinstance(error, FhirError):
        reads.failures.append(error.message)
    elif error is not None:
        raise error
    else:
        reads.found.update(fb.medication_keys(task.result(), ref))


def _name(exc: Exception) -> str:
    return type(exc).__name__


class _Inflater:
    """gzip or deflate, inflated at most ``room + 1`` bytes at a time: a bomb stops at the cap."""

    def __init__(self, wbits: int) -> None:
        self._z = zlib.decompressobj(wbits)

    def feed(self, data: bytes, room: int) -> bytes:
        room = max(room, 0)  # zlib reads a max_length of 0 as "no limit"
        try:
            out = self._z.decompress(data, room + 1)
            while self._z.unconsumed_tail and len(out) <= room:
                out += self._z.decompress(self._z.unconsumed_tail, room + 1 - len(out))
        except zlib.error as exc:
            raise httpx.DecodingError("invalid compressed body") from exc
        return out


def _inflater(encoding: str) -> _Inflater | None:
    """The decoder for a Content-Encoding we asked for; DecodingError for anything else."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return None
    if name == "gzip":
        return _Inflater(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return _Inflater(zlib.MAX_WBITS)
    raise httpx.DecodingError("unsupported content encoding")
