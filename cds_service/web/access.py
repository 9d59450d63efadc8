"""The access log: one JSON line per HTTP request (method, path, status, duration, hookInstance).

Never the query string, headers or body: they may carry tokens or patient data. The hookInstance is
logged only when the route recorded one that looks like an identifier.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cds_service.access")
HOOK_INSTANCE_KEY = "hook_instance"
_IDENTIFIER = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def remember_hook_instance(state: Any, payload: Any) -> None:
    """Keep a hook call's hookInstance on the request state for the access log line."""
    value = payload.get("hookInstance") if isinstance(payload, dict) else None
    if isinstance(value, str) and _IDENTIFIER.match(value):
        setattr(state, HOOK_INSTANCE_KEY, value)


class AccessLog:
    """Pure ASGI middleware (no per-request task or body copy): logs when the response has started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app is answered 500 by the server

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _log_line(scope, status, started)


def _log_line(scope: Scope, status: int, started: float) -> None:
    fields: dict[str, Any] = {
        "method": scope["method"],
        "path": scope["path"][:200],
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    hook_instance = scope.get("state", {}).get(HOOK_INSTANCE_KEY)
    if hook_instance:
        fields["hook_instance"] = hook_instance
    log.info("request", extra=fields)
