"""The last resort for unexpected errors: a 500 OperationOutcome and one structured log line.

Starlette's own handler for ``Exception`` answers, then re-raises so the server logs it, and uvicorn
prints a plain traceback with the exception's message (which may quote request data). Here the error
is logged once as JSON (type and stack frames, never the message) and not raised further.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.errors import InternalError

log = logging.getLogger("cds_service.web")


class UnexpectedErrors:
    """ASGI middleware: any exception that escapes the routes' handlers becomes a logged 500."""

    def __init__(self, app: ASGIApp, body: bytes) -> None:
        self._app = app
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, sending)
        except Exception as exc:
            if not isinstance(exc, InternalError):  # InternalError was logged with its hookInstance
                log.error("unexpected error", exc_info=exc, extra={"path": scope.get("path")})
            if not started:  # once the answer has begun, closing the connection is all there is
                await self._answer(send)

    async def _answer(self, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(self._body)),
        ]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": self._body})
