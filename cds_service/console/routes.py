"""The console's pages: login, override analytics, knowledge base, explain, shadow rules.

Every route sits behind ``ConsoleGate``; every form post carries its CSRF token (a bearer caller,
whose browser adds no ambient credential, needs none).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cds_service.console import knowledge
from cds_service.console.analytics import build_analytics
from cds_service.console.explain import Trace
from cds_service.console.forms import read_form
from cds_service.console.gate import client_address, too_many
from cds_service.console.pages import ASSETS, asset
from cds_service.console.session import (
    LOGIN_COOKIE,
    LOGIN_NONCE_SECONDS,
    SESSION_COOKIE,
    Session,
)
from cds_service.console.state import Console
from cds_service.errors import RequestRejected, StoreUnavailable
from cds_service.service import CdsService
from cds_service.web.body import parse_json

router = APIRouter(prefix="/console", include_in_schema=False)


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def _service(request: Request) -> CdsService:
    service: CdsService = request.app.state.service
    return service


def _session(request: Request) -> Session | None:
    session: Session | None = request.state.console_session
    return session


def _csrf(request: Request) -> str:
    session = _session(request)
    return _console(request).sessions.csrf_token(session) if session else "bearer"


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    console = _console(request)
    html = console.pages.render(template, csrf=_csrf(request), **context)
    return HTMLResponse(html, status_code=status)


async def _checked_form(request: Request) -> dict[str, str | bytes] | None:
    """The form, or None when it lacks this session's CSRF token (answered 403)."""
    form = await read_form(request, _console(request).limits)
    if getattr(request.state, "console_bearer", False):
        return form
    session, token = _session(request), form.get("csrf")
    if session is None or not isinstance(token, str):
        return None
    return form if _console(request).sessions.csrf_ok(session, token) else None


def forbidden_page() -> Response:
    return Response(
        "The form did not come from this console session: reload the page and try again.",
        status_code=403,
        media_type="text/plain",
    )


# ------------------------------------------------------------------ login


@router.get("")
@router.get("/")
async def home() -> Response:
    return RedirectResponse("/console/analytics", status_code=303)


@router.get("/login")
async def login_page(request: Request) -> Response:
    if _session(request) is not None:
        return RedirectResponse("/console/analytics", status_code=303)
    return _login_form(request)


def _login_form(request: Request, error: str | None = None, status: int = 200) -> Response:
    console = _console(request)
    cookie, form_value = console.sessions.login_nonce()
    html = console.pages.render(
        "login.html",
        title="Log in",
        login_csrf=form_value,
        error=error,
        minutes=console.sessions.lifetime_seconds // 60,
    )
    response = HTMLResponse(html, status_code=status)
    _set_cookie(response, LOGIN_COOKIE, cookie, max_age=LOGIN_NONCE_SECONDS)
    return response


def _set_cookie(response: Response, name: str, value: str, *, max_age: int) -> None:
    # __Host- names: Secure, Path=/ and no Domain, so no other host or path can plant them.
    response.set_cookie(
        name, value, max_age=max_age, secure=True, httponly=True, samesite="strict", path="/"
    )


def _clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, secure=True, httponly=True, samesite="strict", path="/")


@router.post("/login")
async def login(request: Request) -> Response:
    console = _console(request)
    address = client_address(request)
    wait = console.limiter.retry_after(address)
    if wait is not None:
        return too_many(wait)
    form = await read_form(request, console.limits)
    csrf, token = form.get("csrf"), form.get("token")
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not isinstance(csrf, str) or not console.sessions.login_ok(cookie, csrf):
        return _login_form(request, "The login form expired: enter the token again.", 403)
    if not isinstance(token, str) or not console.sessions.token_matches(token):
        console.limiter.failed(address)
        return _login_form(request, "That is not the console token.", 401)
    console.limiter.succeeded(address)
    response = RedirectResponse("/console/analytics", status_code=303)
    lifetime = console.sessions.lifetime_seconds
    _set_cookie(response, SESSION_COOKIE, console.sessions.issue(), max_age=lifetime)
    _clear_cookie(response, LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    if await _checked_form(request) is None:
        return forbidden_page()
    response = RedirectResponse("/console/login", status_code=303)
    _clear_cookie(response, SESSION_COOKIE)
    return response


# ------------------------------------------------------------------ pages


@router.get("/analytics")
async def analytics(request: Request) -> Response:
    console = _console(request)
    try:
        outcomes = await _service(request).store.rule_outcomes()
    except StoreUnavailable as exc:
        return _store_down(request, exc)
    report = build_analytics(outcomes, console.kb, console.policy)
    return _page(
        request,
        "analytics.html",
        title="Override analytics",
        active="analytics",
        analytics=report,
        chart=report.chart_data(),
    )


@router.get("/knowledge")
async def knowledge_index(request: Request) -> Response:
    kb = _console(request).kb
    return _page(
        request,
        "knowledge.html",
        title="Knowledge base",
        active="knowledge",
        topics=knowledge.topics(kb),
        combinations=kb.manifest.combinations,
    )


@router.get("/knowledge/{topic}")
async def knowledge_topic(request: Request, topic: str) -> Response:
    try:
        view = knowledge.topic_view(_console(request).kb, topic)
    except KeyError:
        return _page(request, "message.html", 404, title="No such topic", message="No such topic.")
    return _page(request, "topic.html", title=view.rule.id, active="knowledge", topic=view)


@router.get("/explain")
async def explain_page(request: Request) -> Response:
    return _page(request, "explain.html", title="Explain", active="explain", trace=None, error=None)


@router.post("/explain")
async def explain(request: Request) -> Response:
    form = await _checked_form(request)
    if form is None:
        return forbidden_page()
    text = form.get("file") or form.get("request") or ""
    body = text.encode("utf-8") if isinstance(text, str) else text
    trace: Trace | None = None
    error = None
    if not body.strip():
        error = "Paste a hook request or choose a JSON file."
    else:
        try:
            payload = parse_json(body, _console(request).limits)
        except RequestRejected as exc:
            error = f"Not JSON the service accepts: {exc.message}"
        else:
            trace = await _console(request).explainer(_service(request), payload)
    status = 400 if error else 200
    return _page(
        request, "explain.html", status, title="Explain", active="explain", trace=trace, error=error
    )


@router.get("/shadow")
async def shadow(request: Request) -> Response:
    console = _console(request)
    try:
        report = await _service(request).store.shadow_report()
    except StoreUnavailable as exc:
        return _store_down(request, exc)
    rows = knowledge.shadow_rows(console.kb, report)
    return _page(
        request, "shadow.html", title="Shadow rules", active="shadow", report=report, shadow=rows
    )


@router.get("/static/{name:path}")
async def static(name: str) -> Response:
    if name not in ASSETS:
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(asset(name), media_type=ASSETS[name])


def _store_down(request: Request, exc: StoreUnavailable) -> Response:
    message = f"The store is unavailable ({exc.message}); try again later."
    return _page(request, "message.html", 503, title="Store unavailable", message=message)
