"""The SQLite store: created and migrated at start-up, one record per evaluation, no patient data or token."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.store.records import AuditedCard, EvaluationRecord
from cds_service.store.sqlite import SqliteAuditStore, sqlite_path
from tests.conftest import SERVICE_URL, make_app, make_settings
from tests.payloads import CLONAZEPAM, PATIENT_ID, hook_request, ketamine_order
from tests.pipeline import knowledge_base

TOKEN = "test-secret-token-audit-9f1c"


def _record(hook_instance: str) -> EvaluationRecord:
    return EvaluationRecord(
        hook_instance=hook_instance,
        service_id="svc",
        hook="order-sign",
        evaluated_at=datetime(2026, 11, 27, tzinfo=UTC),
        outcome="cards",
        kb_version="1.0.0",
        kb_digest="abc",
        cards=(
            AuditedCard(
                uuid=f"card-{hook_instance}", topic="BZD", indicator="warning", rule_version=1
            ),
        ),
        duration_ms=1.5,
    )


def test_store_when_opened_twice_creates_and_migrates_the_file_once(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "cds.db"

    async def open_twice() -> None:
        for _ in range(2):
            store = SqliteAuditStore(path)
            await store.close()

    asyncio.run(open_twice())
    with sqlite3.connect(path) as db:
        versions = db.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        assert versions == [(1,), (2,), (3,), (4,)]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "evaluations",
        "evaluation_cards",
        "feedback",
        "replay_tokens",
        "announcements",
    } <= tables


def test_store_when_closed_has_written_every_evaluation_handed_to_it(tmp_path: Path) -> None:
    path = tmp_path / "cds.db"

    async def write() -> None:
        store = SqliteAuditStore(path)
        for n in range(25):
            await store.record_evaluation(_record(f"hi-{n}"))
        await store.close()

    asyncio.run(write())
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] == 25
        assert db.execute("SELECT COUNT(*) FROM evaluation_cards").fetchone()[0] == 25


def test_sqlite_path_reads_sqlite_urls_only() -> None:
    assert sqlite_path("sqlite:////var/lib/cds.db") == Path("/var/lib/cds.db")
    with pytest.raises(ValueError, match="sqlite"):
        sqlite_path("mysql://db/cds")


def test_audit_when_hook_answered_keeps_hook_instance_and_topics_not_patient_or_token(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    body["fhirServer"] = "https://ehr.example.org/fhir"
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "subject": "x"}
    with TestClient(make_app(settings)) as client:
        cards = client.post(SERVICE_URL, json=body).json()["cards"]
    db_path = Path(settings.effective_database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT hook_instance, outcome, kb_version FROM evaluations").fetchall()
        card_rows = db.execute("SELECT card_uuid, topic FROM evaluation_cards").fetchall()
    kb_version = knowledge_base().manifest.version
    assert rows == [(body["hookInstance"], "cards", kb_version)]
    assert card_rows == [(cards[0]["uuid"], "BZD")]
    raw = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.is_file())
    assert PATIENT_ID.encode() not in raw
    assert TOKEN.encode() not in raw


def test_store_when_a_batch_write_fails_retries_it_and_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cds.db"

    async def write() -> None:
        store = SqliteAuditStore(path, batch_seconds=0)
        store._batcher._retry_seconds = 0
        real_write = store._write_evaluations
        calls = 0

        def fails_once(batch: object) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise sqlite3.OperationalError("disk I/O error")
            real_write(batch)  # type: ignore[arg-type]

        store._write_evaluations = fails_once  # type: ignore[method-assign]
        await store.record_evaluation(_record("retried"))
        await store.flush()
        await store.record_evaluation(_record("kept"))
        await store.close()

    asyncio.run(write())
    failed = [r for r in caplog.records if r.getMessage() == "audit write failed; will retry"]
    assert [r.__dict__["records_pending"] for r in failed] == [1]
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT hook_instance FROM evaluations ORDER BY rowid").fetchall()
    assert rows == [("retried",), ("kept",)]


def test_audit_when_call_answered_412_records_data_unavailable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    body = hook_request(ketamine_order(), prefetch={})
    with TestClient(make_app(settings)) as client:
        assert client.post(SERVICE_URL, json=body).status_code == 412
    db_path = Path(settings.effective_database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT hook_instance, outcome FROM evaluations").fetchall()
    assert rows == [(body["hookInstance"], "data-unavailable")]
