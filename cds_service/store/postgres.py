"""The shared store for several replicas: PostgreSQL through psycopg 3 (async) and its pool."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from cds_service.cdshooks.models import FeedbackItem
from cds_service.errors import StoreUnavailable
from cds_service.store.analytics import (
    POSTGRES_WEEK,
    SHADOW_QUERIES,
    AnalyticsQueries,
    RuleOutcomes,
    ShadowReport,
    rule_outcomes,
    shadow_report,
)
from cds_service.store.batching import AuditBatcher
from cds_service.store.records import (
    EvaluationRecord,
    FeedbackRow,
    TopicFeedback,
    feedback_rows,
    shadow_rows,
)
from cds_service.store.report import OUTCOMES, REASONS, SHOWN, combine
from cds_service.store.schema import POSTGRES_MIGRATIONS

T = TypeVar("T")
Conn = psycopg.AsyncConnection[tuple[object, ...]]
# pg_advisory_lock key serialising migrations between replicas that start together ("cds-mig").
MIGRATION_LOCK = 0x6364732D6D6967
PURGE_EVERY_SECONDS = 60.0
_QUERIES = AnalyticsQueries.for_week(POSTGRES_WEEK)

_FEEDBACK_INSERT = (
    "INSERT INTO feedback (card_uuid, outcome, outcome_timestamp, service_id, accepted_suggestions,"
    " override_system, override_code, has_comment, received_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)


class PostgresAuditStore:
    """The same contract as the SQLite store; feedback and token ids are unique across replicas."""

    def __init__(self, pool: AsyncConnectionPool[Conn], *, batch_seconds: float = 0.05) -> None:
        self._pool = pool
        self._batcher = AuditBatcher(self._write_batch, batch_seconds=batch_seconds)
        self._purged: dict[str, float] = {}  # table -> when its expired keys were last purged

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        timeout_seconds: float = 0.3,
        pool_size: int = 10,
        connect_timeout_seconds: float = 5.0,
    ) -> PostgresAuditStore:
        """Connect, run the migrations not yet applied, and return the store."""
        # lock_timeout bounds a wait behind another transaction's lock; statement_timeout any query.
        options = f"-c lock_timeout={int(timeout_seconds * 1000)} -c statement_timeout=10000"
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=max(timeout_seconds, 0.05),
            open=False,
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True, "options": options, "connect_timeout": 5},
        )
        try:
            await pool.open(wait=True, timeout=connect_timeout_seconds)
            async with pool.connection(timeout=connect_timeout_seconds) as conn:
                await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    # ------------------------------------------------------------ evaluations

    async def record_evaluation(self, record: EvaluationRecord) -> None:
        self._batcher.add(record)

    async def _write_batch(self, batch: Sequence[EvaluationRecord]) -> None:
        async def write(conn: Conn) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO evaluations (hook_instance, service_id, hook, evaluated_at,"
                    " outcome, kb_version, kb_digest, duration_ms)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [_evaluation_values(r) for r in batch],
                )
                cards = [
                    (c.uuid, r.hook_instance, c.topic, c.indicator, c.rule_version)
                    for r in batch
                    for c in r.cards
                ]
                if cards:
                    await cur.executemany(
                        "INSERT INTO evaluation_cards VALUES (%s, %s, %s, %s, %s)"
                        " ON CONFLICT DO NOTHING",
                        cards,
                    )
                shadow = shadow_rows(batch)
                if shadow:
                    await cur.executemany(
                        "INSERT INTO shadow_findings VALUES (%s, %s, %s, %s, %s, %s, %s)", shadow
                    )

        await self._run(write)

    # ------------------------------------------------------------ feedback

    async def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Store feedback idempotently across replicas; returns the rows this call added."""
        rows = feedback_rows(service_id, items)

        async def write(conn: Conn) -> int:
            added = 0
            received = datetime.now(UTC)
            async with conn.transaction(), conn.cursor() as cur:
                for row in rows:
                    await cur.execute(_FEEDBACK_INSERT, _feedback_values(row, received))
                    added += max(cur.rowcount, 0)
            return added

        return await self._run(write)

    async def card_topics(self, card_uuids: Sequence[str]) -> dict[str, str]:
        async def read(conn: Conn) -> dict[str, str]:
            cursor = await conn.execute(
                "SELECT card_uuid, topic FROM evaluation_cards WHERE card_uuid = ANY(%s)",
                (list(card_uuids),),
            )
            return {str(uuid): str(topic) for uuid, topic in await cursor.fetchall()}

        return {**await self._run(read), **self._batcher.pending_topics(card_uuids)}

    # ------------------------------------------------------------ replay cache

    async def remember_token(self, key: str, expires_at: float) -> bool:
        return await self._remember("replay_tokens", key, expires_at)

    async def remember_announcement(self, key: str, expires_at: float) -> bool:
        return await self._remember("announcements", key, expires_at)

    async def _remember(self, table: str, key: str, expires_at: float) -> bool:
        async def insert(conn: Conn) -> bool:
            now = time.time()
            if now - self._purged.get(table, 0.0) > PURGE_EVERY_SECONDS:
                self._purged[table] = now
                await conn.execute(f"DELETE FROM {table} WHERE expires_at < %s", (now,))  # noqa: S608
            cursor = await conn.execute(
                f"INSERT INTO {table} (key, expires_at) VALUES (%s, %s)"  # noqa: S608
                " ON CONFLICT DO NOTHING",
                (key, expires_at),
            )
            return cursor.rowcount == 1

        return await self._run(insert)

    # ------------------------------------------------------------ reading, health, lifecycle

    async def feedback_report(self) -> list[TopicFeedback]:
        await self.flush()

        async def read(conn: Conn) -> list[TopicFeedback]:
            results = []
            for query in (SHOWN, OUTCOMES, REASONS):
                cursor = await conn.execute(query)
                results.append(await cursor.fetchall())
            return combine(*results)

        return await self._run(read)

    async def rule_outcomes(self) -> RuleOutcomes:
        await self.flush()
        queries = (_QUERIES.shown, _QUERIES.outcomes, _QUERIES.reasons)
        return rule_outcomes(*await self._run(lambda conn: _fetch_all(conn, queries)))

    async def shadow_report(self) -> ShadowReport:
        await self.flush()
        return shadow_report(*await self._run(lambda conn: _fetch_all(conn, SHADOW_QUERIES)))

    async def check(self) -> None:
        """Readiness: a connection answers, and the server is a primary that takes writes."""

        async def probe(conn: Conn) -> None:
            cursor = await conn.execute("SELECT pg_is_in_recovery()")
            row = await cursor.fetchone()
            if row is None or row[0]:
                raise StoreUnavailable("the database is read-only (a standby)")

        await self._run(probe)

    async def flush(self) -> None:
        await self._batcher.flush()

    async def close(self) -> None:
        await self._batcher.close()
        await self._pool.close()

    async def _run(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        try:
            async with self._pool.connection() as conn:
                return await work(conn)
        except PoolTimeout as exc:
            raise StoreUnavailable("no database connection within the bounded wait") from exc
        except psycopg.Error as exc:
            raise StoreUnavailable(f"the database refused the call ({type(exc).__name__})") from exc


async def _fetch_all(conn: Conn, queries: Sequence[str]) -> list[list[tuple[object, ...]]]:
    results = []
    for query in queries:
        cursor = await conn.execute(query.encode())
        results.append(await cursor.fetchall())
    return results


def _evaluation_values(r: EvaluationRecord) -> tuple[object, ...]:
    return (
        r.hook_instance,
        r.service_id,
        r.hook,
        r.evaluated_at,
        r.outcome,
        r.kb_version,
        r.kb_digest,
        r.duration_ms,
    )


def _feedback_values(row: FeedbackRow, received: datetime) -> tuple[object, ...]:
    return (
        row.card_uuid,
        row.outcome,
        row.outcome_at,
        row.service_id,
        row.accepted_suggestions,
        row.override_system,
        row.override_code,
        row.has_comment,
        received,
    )


async def migrate(conn: Conn) -> None:
    """Apply the missing versions under an advisory lock: replicas starting together take turns."""
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
        )
        cursor = await conn.execute("SELECT version FROM schema_migrations")
        applied = {int(str(row[0])) for row in await cursor.fetchall()}
        for version, script in POSTGRES_MIGRATIONS:
            if version not in applied:
                async with conn.transaction():
                    for statement in (s.strip() for s in script.split(";")):
                        if statement:
                            await conn.execute(statement.encode())
                    await conn.execute(
                        "INSERT INTO schema_migrations VALUES (%s, now())", (version,)
                    )
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
