"""Choose and open the store from ``CDS_DATABASE_URL``; start degraded when it cannot be opened."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from cds_service.cdshooks.models import FeedbackItem
from cds_service.errors import ConfigurationInvalid, StoreUnavailable
from cds_service.store.analytics import RuleOutcomes, ShadowReport
from cds_service.store.records import AuditStore, EvaluationRecord, TopicFeedback
from cds_service.store.sqlite import SqliteAuditStore, sqlite_path

log = logging.getLogger("cds_service.store")

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(database_url: str) -> bool:
    return database_url.startswith(POSTGRES_SCHEMES)


def check_database_url(database_url: str) -> None:
    """``ConfigurationInvalid`` naming ``CDS_DATABASE_URL`` unless it names a store we have."""
    if is_postgres(database_url) or database_url.startswith("sqlite:///"):
        return
    raise ConfigurationInvalid(
        "CDS_DATABASE_URL", "expected sqlite:///path or postgresql://user@host/database"
    )


async def open_store(
    database_url: str, *, timeout_seconds: float = 0.3, pool_size: int = 10
) -> AuditStore:
    """The store the URL names, migrated; raises when it cannot be opened."""
    check_database_url(database_url)
    if is_postgres(database_url):
        from cds_service.store.postgres import PostgresAuditStore

        return await PostgresAuditStore.open(
            database_url, timeout_seconds=timeout_seconds, pool_size=pool_size
        )
    return SqliteAuditStore(sqlite_path(database_url), timeout_seconds=timeout_seconds)


async def open_store_or_degraded(
    database_url: str, *, timeout_seconds: float = 0.3, pool_size: int = 10
) -> AuditStore:
    """Cards need no storage: a store that cannot be opened leaves the service up, degraded."""
    try:
        return await open_store(database_url, timeout_seconds=timeout_seconds, pool_size=pool_size)
    except ConfigurationInvalid:
        raise
    except Exception as exc:
        reason = _reason(exc)
        log.error(
            "store unavailable at start-up: serving cards without it; feedback answers 503 and"
            " /ready fails until the store is fixed and the service restarted",
            extra={"store": describe(database_url), "error": type(exc).__name__, "reason": reason},
        )
        return UnavailableStore(reason)


def describe(database_url: str) -> str:
    """The store for a log line: the SQLite path, or only "postgresql" (a URL may hold a password)."""
    if is_postgres(database_url):
        return "postgresql"
    return f"sqlite {sqlite_path(database_url)}"


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, sqlite3.Error):
        return f"sqlite: {exc}"
    return type(exc).__name__


class UnavailableStore:
    """The store of a degraded start: evaluations are not audited, feedback and readiness refuse."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.unaudited = 0

    async def record_evaluation(self, record: EvaluationRecord) -> None:
        self.unaudited += 1
        if self.unaudited == 1 or self.unaudited % 1000 == 0:
            log.error("evaluation not audited: no store", extra={"unaudited": self.unaudited})

    async def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        raise StoreUnavailable("the store could not be opened at start-up")

    async def card_topics(self, card_uuids: Sequence[str]) -> dict[str, str]:
        raise StoreUnavailable("the store could not be opened at start-up")

    async def remember_token(self, key: str, expires_at: float) -> bool:
        raise StoreUnavailable("the store could not be opened at start-up")

    async def remember_announcement(self, key: str, expires_at: float) -> bool:
        raise StoreUnavailable("the store could not be opened at start-up")

    async def feedback_report(self) -> list[TopicFeedback]:
        raise StoreUnavailable("the store could not be opened at start-up")

    async def rule_outcomes(self) -> RuleOutcomes:
        raise StoreUnavailable("the store could not be opened at start-up")

    async def shadow_report(self) -> ShadowReport:
        raise StoreUnavailable("the store could not be opened at start-up")

    async def check(self) -> None:
        raise StoreUnavailable(f"the store could not be opened at start-up: {self.reason}")

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None
