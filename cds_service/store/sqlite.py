"""The embedded audit and feedback store: one SQLite file, created and migrated on open."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cds_service.cdshooks.models import FeedbackItem
from cds_service.errors import StoreUnavailable
from cds_service.store.analytics import (
    SQLITE_WEEK,
    AnalyticsQueries,
    RuleOutcomes,
    ShadowReport,
    read_rule_outcomes,
    read_shadow_report,
)
from cds_service.store.batching import AuditBatcher
from cds_service.store.records import (
    EvaluationRecord,
    FeedbackRow,
    TopicFeedback,
    feedback_rows,
    shadow_rows,
)
from cds_service.store.report import topic_feedback
from cds_service.store.schema import SQLITE_MIGRATIONS

T = TypeVar("T")
PURGE_EVERY_SECONDS = 60.0
_QUERIES = AnalyticsQueries.for_week(SQLITE_WEEK)


def sqlite_path(database_url: str) -> Path:
    """``sqlite:///relative/path`` or ``sqlite:////absolute/path`` to a file path."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError("CDS_DATABASE_URL: expected sqlite:///path or postgresql://...")
    return Path(database_url[len(prefix) :])


class SqliteAuditStore:
    """SQLite file, created and migrated on open. Evaluations are written in batches off the request
    path; feedback is written before the call returns, or refused with ``StoreUnavailable``."""

    def __init__(
        self, path: Path, *, batch_seconds: float = 0.05, timeout_seconds: float = 0.3
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._timeout = timeout_seconds
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=timeout_seconds
        )
        try:
            self._configure()
            _migrate(self._db, timeout_seconds)
        except sqlite3.Error:
            self._db.close()
            raise
        self._identity = _identity(path)
        self._lock = asyncio.Lock()
        self._batcher = AuditBatcher(self._write_batch, batch_seconds=batch_seconds)
        self._purged: dict[str, float] = {}  # table -> when its expired keys were last purged

    @classmethod
    def open(cls, database_url: str, *, timeout_seconds: float = 0.3) -> SqliteAuditStore:
        return cls(sqlite_path(database_url), timeout_seconds=timeout_seconds)

    def _configure(self) -> None:
        # A rollback journal, not WAL: WAL maps its -shm file into memory, and a -shm file that is
        # removed, truncated or made immutable under a running process kills it with SIGBUS before
        # any log line. A rollback journal does plain reads and writes that fail with an error.
        # mmap stays off for the same reason. FULL sync: acknowledged feedback survives power loss.
        self._db.execute("PRAGMA journal_mode=DELETE")
        self._db.execute("PRAGMA mmap_size=0")
        self._db.execute("PRAGMA synchronous=FULL")
        # Deleted content is overwritten, so free text erased by a migration leaves the file too.
        self._db.execute("PRAGMA secure_delete=ON")

    # ------------------------------------------------------------ evaluations

    async def record_evaluation(self, record: EvaluationRecord) -> None:
        self._batcher.add(record)

    async def _write_batch(self, batch: Sequence[EvaluationRecord]) -> None:
        await self._locked(lambda: self._write_evaluations(batch))

    def _write_evaluations(self, batch: Sequence[EvaluationRecord]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT INTO evaluations (hook_instance, service_id, hook, evaluated_at, outcome,"
                " kb_version, kb_digest, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.hook_instance,
                        r.service_id,
                        r.hook,
                        r.evaluated_at.isoformat(),
                        r.outcome,
                        r.kb_version,
                        r.kb_digest,
                        r.duration_ms,
                    )
                    for r in batch
                ],
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO evaluation_cards (card_uuid, hook_instance, topic, indicator,"
                " rule_version) VALUES (?, ?, ?, ?, ?)",
                [
                    (c.uuid, r.hook_instance, c.topic, c.indicator, c.rule_version)
                    for r in batch
                    for c in r.cards
                ],
            )
            self._db.executemany(
                "INSERT INTO shadow_findings (firing_id, hook_instance, evaluated_at, topic,"
                " rule_version, indicator, record_class) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*row[:2], row[2].isoformat(), *row[3:]) for row in shadow_rows(batch)],
            )

    # ------------------------------------------------------------ feedback

    async def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Store feedback idempotently (key: card, outcome, outcomeTimestamp); returns the rows added."""
        rows = feedback_rows(service_id, items)
        return await self._locked(lambda: self._write_feedback(rows))

    def _write_feedback(self, rows: Sequence[FeedbackRow]) -> int:
        received = datetime.now(UTC).isoformat()
        before = self._db.total_changes
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO feedback (card_uuid, outcome, outcome_timestamp, service_id,"
                " accepted_suggestions, override_system, override_code, has_comment, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.card_uuid,
                        r.outcome,
                        r.outcome_at.isoformat(),
                        r.service_id,
                        r.accepted_suggestions,
                        r.override_system,
                        r.override_code,
                        int(r.has_comment),
                        received,
                    )
                    for r in rows
                ],
            )
        return self._db.total_changes - before

    async def card_topics(self, card_uuids: Sequence[str]) -> dict[str, str]:
        uuids = list(card_uuids)
        marks = ",".join("?" * len(uuids))
        query = f"SELECT card_uuid, topic FROM evaluation_cards WHERE card_uuid IN ({marks})"  # noqa: S608
        stored = dict(await self._locked(lambda: self._db.execute(query, uuids).fetchall()))
        return {**stored, **self._batcher.pending_topics(uuids)}

    # ------------------------------------------------------------ replay cache

    async def remember_token(self, key: str, expires_at: float) -> bool:
        return await self._locked(lambda: self._remember("replay_tokens", key, expires_at))

    async def remember_announcement(self, key: str, expires_at: float) -> bool:
        return await self._locked(lambda: self._remember("announcements", key, expires_at))

    def _remember(self, table: str, key: str, expires_at: float) -> bool:
        now = time.time()
        with self._transaction():
            if now - self._purged.get(table, 0.0) > PURGE_EVERY_SECONDS:
                self._db.execute(f"DELETE FROM {table} WHERE expires_at < ?", (now,))  # noqa: S608
                self._purged[table] = now
            cursor = self._db.execute(
                f"INSERT OR IGNORE INTO {table} (key, expires_at) VALUES (?, ?)",  # noqa: S608
                (key, expires_at),
            )
            return cursor.rowcount == 1

    # ------------------------------------------------------------ reading, health, lifecycle

    async def feedback_report(self) -> list[TopicFeedback]:
        await self.flush()
        return await self._locked(lambda: topic_feedback(self._db))

    async def rule_outcomes(self) -> RuleOutcomes:
        await self.flush()
        return await self._locked(lambda: read_rule_outcomes(self._db, _QUERIES))

    async def shadow_report(self) -> ShadowReport:
        await self.flush()
        return await self._locked(lambda: read_shadow_report(self._db))

    async def check(self) -> None:
        """Readiness: the file is still the one opened, and a write transaction can be taken."""
        await self._locked(self._check_writable)

    def _check_writable(self) -> None:
        # A real write: a read-only file, a full disk or a lock held too long all show here.
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO store_health (id, checked_at) VALUES (1, ?)",
                (datetime.now(UTC).isoformat(),),
            )

    async def flush(self) -> None:
        """Wait until every evaluation handed to the store is on disk."""
        await self._batcher.flush()

    async def close(self) -> None:
        await self._batcher.close()
        self._db.close()

    # ------------------------------------------------------------ guards

    async def _locked(self, work: Callable[[], T]) -> T:
        # Bounded waits everywhere: behind our own writer (the lock) and behind another process
        # (SQLite's busy timeout). A caller then gets a 503 to retry, never a queue of seconds.
        try:
            await asyncio.wait_for(self._lock.acquire(), self._timeout)
        except TimeoutError as exc:
            raise StoreUnavailable("the store is busy") from exc
        try:
            self._check_identity()
            return await asyncio.to_thread(_translated, work)
        finally:
            self._lock.release()

    def _check_identity(self) -> None:
        # A deleted or replaced file leaves this connection writing to an unlinked inode: feedback
        # would be acknowledged and then lost. Compare the path with the file opened, every time.
        try:
            current = _identity(self._path)
        except OSError:
            current = None
        if current != self._identity:
            raise StoreUnavailable("the database file was deleted or replaced")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _translated(work: Callable[[], T]) -> T:
    try:
        return work()
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"the database refused the write ({type(exc).__name__})") from exc


def _identity(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _migrate(db: sqlite3.Connection, timeout_seconds: float) -> None:
    """Apply the versions not yet recorded in ``schema_migrations``, one transaction each."""
    # Workers starting together take turns on the write lock; give them longer than a request.
    db.execute(f"PRAGMA busy_timeout = {int(max(timeout_seconds, 10.0) * 1000)}")
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        if not applied:
            applied = _adopt_legacy_versions(db)
        for version, script in SQLITE_MIGRATIONS:
            if version not in applied:
                _apply(db, version, script)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    db.execute(f"PRAGMA busy_timeout = {int(timeout_seconds * 1000)}")


def _adopt_legacy_versions(db: sqlite3.Connection) -> set[int]:
    # Databases made before the migrations table counted their version in PRAGMA user_version.
    (legacy,) = db.execute("PRAGMA user_version").fetchone()
    now = datetime.now(UTC).isoformat()
    for version in range(1, legacy + 1):
        db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, now))
    return set(range(1, legacy + 1))


def _apply(db: sqlite3.Connection, version: int, script: str) -> None:
    for statement in (s.strip() for s in script.split(";")):
        if statement:
            db.execute(statement)
    db.execute(
        "INSERT INTO schema_migrations VALUES (?, ?)", (version, datetime.now(UTC).isoformat())
    )
