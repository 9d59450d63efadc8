"""The embedded audit and feedback store: one SQLite file, created and migrated on open."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cds_service.cdshooks.models import FeedbackItem
from cds_service.store.records import EvaluationRecord, TopicFeedback

log = logging.getLogger("cds_service.store.sqlite")


_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE evaluations (
        hook_instance TEXT NOT NULL,
        service_id TEXT NOT NULL,
        hook TEXT NOT NULL,
        evaluated_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        kb_version TEXT NOT NULL,
        kb_digest TEXT NOT NULL,
        duration_ms REAL NOT NULL
    );
    CREATE INDEX evaluations_hook_instance ON evaluations (hook_instance);
    CREATE TABLE evaluation_cards (
        card_uuid TEXT PRIMARY KEY,
        hook_instance TEXT NOT NULL,
        topic TEXT NOT NULL,
        indicator TEXT NOT NULL,
        rule_version INTEGER NOT NULL
    );
    CREATE TABLE feedback (
        card_uuid TEXT NOT NULL,
        outcome TEXT NOT NULL,
        outcome_timestamp TEXT NOT NULL,
        service_id TEXT NOT NULL,
        accepted_suggestions TEXT,
        override_system TEXT,
        override_code TEXT,
        override_display TEXT,
        has_comment INTEGER NOT NULL DEFAULT 0,
        received_at TEXT NOT NULL,
        PRIMARY KEY (card_uuid, outcome, outcome_timestamp)
    );
    """,
)


def sqlite_path(database_url: str) -> Path:
    """``sqlite:///relative/path`` or ``sqlite:////absolute/path`` to a file path."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError(
            "CDS_DATABASE_URL: only sqlite:/// URLs are built in (a PostgreSQL store plugs in behind AuditStore)"
        )
    return Path(database_url[len(prefix) :])


class SqliteAuditStore:
    """SQLite file, created and migrated on open. Evaluations are written by a background task so that the
    clinician's request never waits on the disk; feedback is written before the call returns."""

    def __init__(self, path: Path, *, batch_seconds: float = 0.05) -> None:
        self._batch_seconds = batch_seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = asyncio.Lock()
        self._pending: list[EvaluationRecord] = []
        self._writer: asyncio.Task[None] | None = None
        self._migrate()

    @classmethod
    def open(cls, database_url: str) -> SqliteAuditStore:
        return cls(sqlite_path(database_url))

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    async def record_evaluation(self, record: EvaluationRecord) -> None:
        self._pending.append(record)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            # Let records gather for a moment: one transaction per batch instead of one per call
            # (measured: per-call commits were ~10% of the service's CPU under load).
            await asyncio.sleep(self._batch_seconds)
            batch, self._pending = self._pending, []
            async with self._lock:
                try:
                    await asyncio.to_thread(self._write_evaluations, batch)
                except Exception:
                    # Nobody awaits this task: say what was lost rather than fail unseen.
                    log.exception("audit write failed", extra={"records_lost": len(batch)})

    def _write_evaluations(self, batch: Sequence[EvaluationRecord]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
                "INSERT OR IGNORE INTO evaluation_cards VALUES (?, ?, ?, ?, ?)",
                [
                    (c.uuid, r.hook_instance, c.topic, c.indicator, c.rule_version)
                    for r in batch
                    for c in r.cards
                ],
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Store feedback idempotently (key: card, outcome, outcomeTimestamp); returns the rows added."""
        async with self._lock:
            return await asyncio.to_thread(self._write_feedback, service_id, items)

    def _write_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        received = datetime.now(UTC).isoformat()
        before = self._db.total_changes
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_feedback_row(service_id, item, received) for item in items],
            )
        return self._db.total_changes - before

    async def feedback_report(self) -> list[TopicFeedback]:
        await self.flush()
        async with self._lock:
            return await asyncio.to_thread(self._report)

    def _report(self) -> list[TopicFeedback]:
        shown = dict(
            self._db.execute(
                "SELECT topic, COUNT(*) FROM evaluation_cards GROUP BY topic"
            ).fetchall()
        )
        # One row per card: whether it was ever accepted, ever dismissed.
        outcomes: dict[str, list[int]] = {}
        for topic, accepted, overridden in self._db.execute(
            "SELECT COALESCE(c.topic, '(unknown card)'), MAX(f.outcome = 'accepted'), "
            "MAX(f.outcome = 'overridden') FROM feedback f "
            "LEFT JOIN evaluation_cards c ON c.card_uuid = f.card_uuid GROUP BY 1, f.card_uuid"
        ):
            counts = outcomes.setdefault(topic, [0, 0, 0])
            counts[0] += int(bool(accepted))
            counts[1] += int(bool(overridden) and not accepted)
            counts[2] += int(bool(accepted) and bool(overridden))
        reasons: dict[str, list[tuple[str, int]]] = {}
        for topic, code, count in self._db.execute(
            "SELECT COALESCE(c.topic, '(unknown card)'), COALESCE(f.override_code, '(none given)'), "
            "COUNT(DISTINCT f.card_uuid) FROM feedback f "
            "LEFT JOIN evaluation_cards c ON c.card_uuid = f.card_uuid "
            "WHERE f.outcome = 'overridden' GROUP BY 1, 2 ORDER BY 3 DESC, 2"
        ):
            reasons.setdefault(topic, []).append((code, count))
        return [
            TopicFeedback(
                topic=topic,
                cards_shown=shown.get(topic, 0),
                accepted=outcomes.get(topic, [0, 0, 0])[0],
                overridden=outcomes.get(topic, [0, 0, 0])[1],
                override_reasons=tuple(reasons.get(topic, ())),
                accepted_and_overridden=outcomes.get(topic, [0, 0, 0])[2],
            )
            for topic in sorted(set(shown) | set(outcomes))
        ]

    async def flush(self) -> None:
        """Wait until every evaluation handed to the store is on disk."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        if self._pending:
            await self._drain()

    async def close(self) -> None:
        await self.flush()
        self._db.close()


def _feedback_row(
    service_id: str, item: FeedbackItem, received: str
) -> tuple[str | int | None, ...]:
    reason = item.overrideReason.reason if item.overrideReason else None
    accepted = (
        json.dumps([s.id for s in item.acceptedSuggestions]) if item.acceptedSuggestions else None
    )
    return (
        item.card,
        item.outcome,
        item.outcomeTimestamp.astimezone(UTC).isoformat(),
        service_id,
        accepted,
        reason.system if reason else None,
        reason.code if reason else None,
        reason.display if reason else None,
        int(bool(item.overrideReason and item.overrideReason.userComment)),
        received,
    )
