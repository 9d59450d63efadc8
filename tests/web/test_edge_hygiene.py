"""The HTTP edge under misbehaving clients and bugs: slow bodies, disconnects, one-line 500s."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cds_service.app import create_app
from cds_service.logs import JsonFormatter
from tests.conftest import SERVICE_URL, make_settings
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order

pytestmark = pytest.mark.anyio
SECRET = "-".join(["Patient/secret", "4711"])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _call(app: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)  # app exceptions reach the test: none may escape
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, url, **kwargs)


async def test_hook_call_when_body_trickles_past_the_timeout_is_408(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, body_timeout_seconds=0.2))
    body = json.dumps(hook_request(ketamine_order(), medications=(CLONAZEPAM,))).encode()

    async def trickle() -> AsyncIterator[bytes]:
        for start in range(0, len(body), len(body) // 10 + 1):
            await asyncio.sleep(0.1)
            yield body[start : start + len(body) // 10 + 1]

    response = await _call(
        app, "POST", SERVICE_URL, content=trickle(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 408
    assert response.json()["issue"][0]["code"] == "timeout"


async def test_hook_call_when_client_disconnects_mid_body_logs_info_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(tmp_path))
    messages: Iterator[dict[str, Any]] = iter(
        [
            {"type": "http.request", "body": b'{"hook": "order-sign", ', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": SERVICE_URL,
        "raw_path": SERVICE_URL.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"5000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
        "root_path": "",
    }
    caplog.set_level(logging.INFO)
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)

    assert [r.getMessage() for r in caplog.records if r.name == "cds_service.app"][-1] == (
        "client disconnected mid-body"
    )
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_unexpected_error_is_one_structured_line_without_the_message_and_not_reraised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> None:
        raise ValueError(f"{SECRET} could not be parsed")

    app = create_app(make_settings(tmp_path, cors_origins="https://sandbox.cds-hooks.org"))
    monkeypatch.setattr("cds_service.service.CdsService.discovery", explode)
    caplog.set_level(logging.INFO)

    response = await _call(
        app, "GET", "/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"}
    )

    assert response.status_code == 500
    assert response.json()["issue"][0]["code"] == "exception"
    assert response.headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = json.loads(JsonFormatter().format(errors[0]))
    assert line["exception"] == "ValueError"
    assert "explode" in line["stack"]
    assert SECRET not in json.dumps(line) + response.text


def test_uvicorn_error_log_when_configured_for_serve_is_one_json_line_without_the_message() -> None:
    script = f"""
import logging.config
from cds_service.logs import uvicorn_log_config
logging.config.dictConfig(uvicorn_log_config("INFO"))
try:
    raise RuntimeError("{SECRET} leaked")
except RuntimeError as exc:
    logging.getLogger("uvicorn.error").error("Exception in ASGI application\\n", exc_info=exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )

    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["logger"], entry["exception"]) == ("uvicorn.error", "RuntimeError")
    assert SECRET not in done.stderr
