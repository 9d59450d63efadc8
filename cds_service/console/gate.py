"""The console's gate (ASGI middleware): nothing under ``/console`` answers without a session or the
bearer token, except the login page and its stylesheet; every console answer gets security headers."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.console.pages import PUBLIC_ASSETS
from cds_service.console.session import SESSION_COOKIE
from cds_service.console.state import Console

PREFIX = "/console"
LOGIN = "/console/login"
STATIC = "/console/static/"
# No inline script or style anywhere: the chart data travels as a JSON data block read by charts.js.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def under_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class ConsoleGate:
    """Admits a request under ``/console`` with a valid session cookie or ``Authorization: Bearer``.

    The verified session (None for a bearer caller) is left in ``request.state.console_session``.
    """

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not under_console(scope["path"]):
            await self.app(scope, receive, send)
            return
        send = _with_headers(send, static=scope["path"].startswith(STATIC))
        refusal = self._admit(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _admit(self, scope: Scope) -> Response | None:
        """None when the request may go on (its session noted in the scope), else the refusal."""
        path = scope["path"]
        state = scope.setdefault("state", {})
        request = Request(scope)
        session = self.console.sessions.verify(request.cookies.get(SESSION_COOKIE))
        state["console_session"] = session
        if path == LOGIN or path.removeprefix(STATIC) in PUBLIC_ASSETS:
            return None
        authorization = request.headers.get("authorization")
        if authorization is not None:
            return self._bearer(request, authorization)
        if session is not None:
            return None
        if scope["method"] in ("GET", "HEAD"):
            return RedirectResponse(LOGIN, status_code=303)
        return PlainTextResponse("Log in first", status_code=401)

    def _bearer(self, request: Request, authorization: str) -> Response | None:
        address = client_address(request)
        limiter = self.console.limiter
        wait = limiter.retry_after(address)
        if wait is not None:
            return too_many(wait)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and self.console.sessions.token_matches(token.strip()):
            request.scope["state"]["console_bearer"] = True
            return None
        limiter.failed(address)
        return PlainTextResponse(
            "Wrong token", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )


def too_many(wait: int) -> Response:
    return PlainTextResponse(
        "Too many failed attempts; try again later",
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


def _with_headers(send: Send, *, static: bool) -> Send:
    # Pages carry what the rule owners decide on: never kept in a cache. The assets may be.
    cache = "private, max-age=3600" if static else "no-store"

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in HEADERS.items():
                headers[name] = value
            headers["Cache-Control"] = cache
        await send(message)

    return sending
