"""Evaluation records written in batches off the request path, retried until the store takes them.

The loss window (README, "Store and loss window"): a record lives only in memory from the hook call
until its batch commits, normally ``batch_seconds`` (50 ms); while the store refuses writes, every
record since the fault, up to ``max_pending`` (then the oldest are dropped, and counted in the log).
A graceful stop (SIGTERM runs the lifespan shutdown) writes what is pending, trying a few times.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from cds_service.store.records import EvaluationRecord

log = logging.getLogger("cds_service.store")

WriteBatch = Callable[[Sequence[EvaluationRecord]], Awaitable[None]]


class AuditBatcher:
    """Gathers records for ``batch_seconds``, writes them in one transaction, retries on failure."""

    def __init__(
        self,
        write: WriteBatch,
        *,
        batch_seconds: float = 0.05,
        retry_seconds: float = 1.0,
        max_retry_seconds: float = 30.0,
        max_pending: int = 100_000,
        max_batch: int = 2_000,
        attempts_when_closing: int = 3,
    ) -> None:
        self._write = write
        self._batch_seconds = batch_seconds
        self._retry_seconds = retry_seconds
        self._max_retry_seconds = max_retry_seconds
        self._max_pending = max_pending
        self._max_batch = max_batch
        self._attempts_when_closing = attempts_when_closing
        self._pending: list[EvaluationRecord] = []
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def pending_topics(self, card_uuids: Sequence[str]) -> dict[str, str]:
        """Topics of the cards among records not yet written (feedback may arrive first)."""
        wanted = set(card_uuids)
        return {c.uuid: c.topic for r in self._pending for c in r.cards if c.uuid in wanted}

    def add(self, record: EvaluationRecord) -> None:
        """Queue one record; never waits and never raises."""
        if len(self._pending) >= self._max_pending:
            del self._pending[0]
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error(
                    "audit records dropped: store down too long", extra={"dropped": self.dropped}
                )
        self._pending.append(record)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        failures = 0
        while self._pending:
            # Let records gather for a moment: one transaction per batch instead of one per call
            # (measured: per-call commits were ~10% of the service's CPU under load).
            await asyncio.sleep(self._delay(failures))
            batch = self._pending[: self._max_batch]
            try:
                await self._write(batch)
            except Exception as exc:
                failures += 1
                if self._give_up(failures, exc):
                    return
                continue
            del self._pending[: len(batch)]
            failures = 0

    def _delay(self, failures: int) -> float:
        if failures == 0:
            return self._batch_seconds
        if self._closing:
            return min(self._retry_seconds, 0.2)
        return min(self._retry_seconds * 2.0 ** (failures - 1), self._max_retry_seconds)

    def _give_up(self, failures: int, exc: Exception) -> bool:
        if self._closing and failures >= self._attempts_when_closing:
            log.error(
                "audit write failed at shutdown",
                extra={"records_lost": len(self._pending), "error": type(exc).__name__},
            )
            self._pending.clear()
            return True
        # Kept and retried: a lock that clears or a database that comes back loses nothing.
        log.warning(
            "audit write failed; will retry",
            extra={"records_pending": len(self._pending), "error": type(exc).__name__},
        )
        return False

    async def flush(self) -> None:
        """Wait until every record handed over so far is written (or given up at shutdown)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        if self._pending:
            self._writer = asyncio.create_task(self._drain())
            await asyncio.shield(self._writer)

    async def close(self) -> None:
        """Write what is pending, trying ``attempts_when_closing`` times before giving up."""
        self._closing = True
        await self.flush()
