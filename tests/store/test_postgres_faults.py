"""PostgreSQL gone under a running store: writes and readiness refuse with StoreUnavailable."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from cds_service.cdshooks.models import FeedbackItem
from cds_service.errors import StoreUnavailable
from cds_service.store.opening import open_store, open_store_or_degraded
from cds_service.store.postgres import PostgresAuditStore
from tests.postgres_server import database_url

ITEM = FeedbackItem.model_validate(
    {"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2026-11-27T10:00:00Z"}
    | {"acceptedSuggestions": [{"id": "s"}]}
)


def test_store_whose_database_was_dropped_refuses_feedback_and_readiness(
    postgres_server: str,
) -> None:
    name = "cds_test_dropped"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        admin.execute(f'CREATE DATABASE "{name}"'.encode())

    async def main() -> list[str]:
        store = await open_store(database_url(postgres_server, name))
        assert await store.record_feedback("svc", [ITEM]) == 1
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)'.encode())
        refused = []
        for attempt in (store.record_feedback("svc", [ITEM]), store.check()):
            with pytest.raises(StoreUnavailable) as caught:
                await attempt
            refused.append(caught.value.message)
        await store.close()
        return refused

    refused = asyncio.run(main())
    assert all(message.startswith(("the database", "no database")) for message in refused)


def test_postgres_that_cannot_be_reached_at_start_up_gives_a_degraded_store(
    postgres_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pool retries a refused connection for its whole connect window (5 s): what is tested is
    # the degraded store at the end of it, so the window is shortened here, not waited out.
    opened = PostgresAuditStore.open

    async def open_quickly(url: str, **kwargs: Any) -> PostgresAuditStore:
        return await opened(url, connect_timeout_seconds=0.3, **kwargs)

    monkeypatch.setattr(PostgresAuditStore, "open", open_quickly)
    parts = urlsplit(postgres_server)
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    dead = urlunsplit((parts.scheme, f"{parts.username}@127.0.0.1:1", parts.path, "", ""))

    async def main() -> str:
        store = await open_store_or_degraded(dead)
        with pytest.raises(StoreUnavailable) as caught:
            await store.check()
        return caught.value.message

    assert asyncio.run(main()).startswith("the store could not be opened at start-up")
