"""The console's fixtures: an app with the console on, a logged-in client, and seeded feedback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cds_service.settings import Settings
from tests.conftest import make_app, make_settings
from tests.pipeline import compiled

TOKEN = "console-token-for-tests-0123456789abcdef"
BASE = "https://testserver"  # the session cookie is Secure: the test client must speak https


def console_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings(tmp_path, console=True, console_token=TOKEN, **overrides)


def versions() -> dict[str, int]:
    kb = compiled()
    return {rule.id: rule.version for rule in kb.rules}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def log_in(client: TestClient, token: str = TOKEN) -> Any:
    page = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "token": token},
        follow_redirects=False,
    )


@pytest.fixture
def console_app(tmp_path: Path) -> FastAPI:
    return make_app(console_settings(tmp_path))


@pytest.fixture
def anonymous(console_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(console_app, base_url=BASE) as client:
        yield client


@pytest.fixture
def logged_in(anonymous: TestClient) -> TestClient:
    assert log_in(anonymous).status_code == 303
    return anonymous
