"""SQLite under faults: a deleted or replaced file, a held lock, a legacy file with free text."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from cds_service.cdshooks.models import FeedbackItem
from cds_service.errors import StoreUnavailable
from cds_service.store.schema import SQLITE_MIGRATIONS
from cds_service.store.sqlite import SqliteAuditStore

ITEM = FeedbackItem.model_validate(
    {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-27T10:00:00Z"}
)


def _after_opening(path: Path, fault) -> list[str]:
    """Open a store, apply ``fault`` to its file, then try a feedback write and a readiness check."""

    async def main() -> list[str]:
        store = SqliteAuditStore(path)
        await store.record_feedback("svc", [ITEM])
        fault(path)
        refused = []
        for attempt in (store.record_feedback("svc", [ITEM]), store.check()):
            try:
                await attempt
            except StoreUnavailable as exc:
                refused.append(exc.message)
        await store.close()
        return refused

    return asyncio.run(main())


def test_store_whose_file_was_deleted_refuses_writes_and_readiness(tmp_path: Path) -> None:
    refused = _after_opening(tmp_path / "cds.db", os.remove)
    assert refused == ["the database file was deleted or replaced"] * 2


def test_store_whose_file_was_replaced_refuses_writes_and_readiness(tmp_path: Path) -> None:
    def replace(path: Path) -> None:
        other = tmp_path / "other.db"
        sqlite3.connect(other).close()
        os.replace(other, path)

    refused = _after_opening(tmp_path / "cds.db", replace)
    assert refused == ["the database file was deleted or replaced"] * 2


def test_store_behind_a_lock_held_by_another_process_refuses_after_its_bounded_wait(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cds.db"

    async def main() -> str:
        store = SqliteAuditStore(path, timeout_seconds=0.05)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreUnavailable) as refused:
                await store.record_feedback("svc", [ITEM])
        finally:
            other.execute("ROLLBACK")
            other.close()
        (busy_ms,) = store._db.execute("PRAGMA busy_timeout").fetchone()
        assert busy_ms == 50
        await store.close()
        return refused.value.message

    assert asyncio.run(main()) == "the database refused the write (OperationalError)"


def test_store_uses_a_rollback_journal_and_leaves_no_shared_memory_file(tmp_path: Path) -> None:
    # WAL's -shm file is mapped into memory: made immutable or removed, the process dies (SIGBUS).
    path = tmp_path / "cds.db"

    async def main() -> str:
        store = SqliteAuditStore(path)
        await store.record_feedback("svc", [ITEM])
        (mode,) = store._db.execute("PRAGMA journal_mode").fetchone()
        await store.close()
        return str(mode)

    assert asyncio.run(main()) == "delete"
    assert not (tmp_path / "cds.db-shm").exists()


def test_store_opening_a_version_1_file_erases_the_override_display_it_held(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cds.db"
    legacy = sqlite3.connect(path)
    legacy.executescript(SQLITE_MIGRATIONS[0][1] + "; PRAGMA user_version = 1;")
    legacy.execute(
        "INSERT INTO feedback VALUES ('c', 'overridden', '2026-01-01T00:00:00+00:00', 's', NULL,"
        " 'http://r', 'code', 'Jane Q Legacypatient', 0, '2026-01-01T00:00:00+00:00')"
    )
    legacy.commit()
    legacy.close()

    async def main() -> None:
        await (SqliteAuditStore(path)).close()

    asyncio.run(main())
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(feedback)")]
        codes = db.execute("SELECT override_code FROM feedback").fetchall()
    assert "override_display" not in columns
    assert codes == [("code",)]
    assert b"Jane Q Legacypatient" not in path.read_bytes()
