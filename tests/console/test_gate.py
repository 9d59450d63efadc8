"""The console's gate through the app: refused without the token, rate-limited, CSRF-checked, headers set."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.console.limits import LoginLimiter
from cds_service.console.session import SESSION_COOKIE, Sessions
from cds_service.errors import ConfigurationInvalid
from tests.conftest import make_app, make_settings
from tests.console.conftest import BASE, TOKEN, console_settings, csrf_of, log_in
from tests.pipeline import knowledge_base

PAGES = [
    "/console",
    "/console/analytics",
    "/console/knowledge",
    "/console/knowledge/BZD",
    "/console/explain",
    "/console/shadow",
    "/console/static/vendor/chart.umd.min.js",
    "/console/static/charts.js",
    "/console/no-such-page",
]


def test_console_when_off_does_not_answer(tmp_path: Path) -> None:
    with TestClient(make_app(make_settings(tmp_path)), base_url=BASE) as client:
        assert client.get("/console/login").status_code == 404


@pytest.mark.parametrize("token", [None, "short", "x" * 31])
def test_console_without_a_long_enough_token_refuses_to_start(
    tmp_path: Path, token: str | None
) -> None:
    settings = make_settings(tmp_path, console=True, console_token=token)
    with pytest.raises(ConfigurationInvalid) as refused:
        create_app(settings, kb=knowledge_base())
    assert refused.value.setting == "CDS_CONSOLE_TOKEN"
    assert "32 characters" in refused.value.message
    assert not token or token not in refused.value.message


@pytest.mark.parametrize("path", PAGES)
def test_console_page_without_a_session_redirects_to_the_login(
    anonymous: TestClient, path: str
) -> None:
    response = anonymous.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


@pytest.mark.parametrize("path", ["/console/explain", "/console/logout", "/console/analytics"])
def test_console_post_without_a_session_is_refused(anonymous: TestClient, path: str) -> None:
    assert anonymous.post(path, data={"request": "{}"}).status_code == 401


def test_login_page_and_its_stylesheet_answer_without_a_session(anonymous: TestClient) -> None:
    page = anonymous.get("/console/login")
    assert page.status_code == 200
    assert 'type="password"' in page.text
    assert anonymous.get("/console/static/console.css").status_code == 200


def test_login_with_the_token_sets_a_secure_session_cookie_that_is_not_the_token(
    anonymous: TestClient,
) -> None:
    response = log_in(anonymous)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/analytics"
    cookie = next(c for c in response.headers.get_list("set-cookie") if SESSION_COOKIE in c)
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= attributes
    assert TOKEN not in cookie
    assert anonymous.get("/console/analytics").status_code == 200


def test_login_with_a_wrong_token_is_refused_then_rate_limited(anonymous: TestClient) -> None:
    statuses = [log_in(anonymous, token="w" * 40).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # Once limited, even the right token waits: a script cannot keep guessing.
    limited = log_in(anonymous)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert SESSION_COOKIE not in anonymous.cookies


def test_bearer_with_a_wrong_token_is_refused_then_rate_limited(anonymous: TestClient) -> None:
    wrong = {"Authorization": "Bearer " + "w" * 40}
    statuses = [anonymous.get("/console/analytics", headers=wrong).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert anonymous.get("/console/analytics", headers=right).status_code == 429


def test_bearer_with_the_token_reads_the_pages(anonymous: TestClient) -> None:
    response = anonymous.get("/console/knowledge", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert "BZD" in response.text


def test_login_without_its_csrf_token_is_refused_and_sets_no_session(
    anonymous: TestClient,
) -> None:
    anonymous.get("/console/login")
    response = anonymous.post("/console/login", data={"token": TOKEN}, follow_redirects=False)
    assert response.status_code == 403
    assert SESSION_COOKIE not in anonymous.cookies


def test_login_with_a_csrf_token_from_another_form_is_refused(tmp_path: Path) -> None:
    app = make_app(console_settings(tmp_path))
    with TestClient(app, base_url=BASE) as first, TestClient(app, base_url=BASE) as second:
        stolen = csrf_of(first.get("/console/login").text)
        second.get("/console/login")
        response = second.post("/console/login", data={"csrf": stolen, "token": TOKEN})
    assert response.status_code == 403


@pytest.mark.parametrize("csrf", [None, "", "not-the-token"])
def test_form_post_in_a_session_without_its_csrf_token_is_refused(
    logged_in: TestClient, csrf: str | None
) -> None:
    data = {"request": "{}"} if csrf is None else {"request": "{}", "csrf": csrf}
    assert logged_in.post("/console/explain", data=data).status_code == 403
    assert logged_in.post("/console/logout", data=data, follow_redirects=False).status_code == 403
    assert logged_in.get("/console/analytics").status_code == 200  # still logged in


def test_logout_with_its_csrf_token_ends_the_session(logged_in: TestClient) -> None:
    csrf = csrf_of(logged_in.get("/console/knowledge").text)
    response = logged_in.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/console/login"
    assert logged_in.get("/console/knowledge", follow_redirects=False).status_code == 303


def test_forged_and_expired_session_cookies_are_refused(anonymous: TestClient) -> None:
    now = [1_000_000.0]
    sessions = Sessions(TOKEN, 60, clock=lambda: now[0])
    valid = sessions.issue()
    sid, expires, mac = valid.split(".")
    assert sessions.verify(valid) is not None
    assert sessions.verify(f"{sid}.{int(expires) + 3600}.{mac}") is None  # extended by hand
    assert Sessions("another-token-" + "y" * 30, 60).verify(valid) is None
    now[0] += 61
    assert sessions.verify(valid) is None
    anonymous.cookies.set(SESSION_COOKIE, "forged.9999999999.mac")
    assert anonymous.get("/console/analytics", follow_redirects=False).status_code == 303


def test_console_pages_carry_security_headers_and_are_never_cached(logged_in: TestClient) -> None:
    for path in ("/console/login", "/console/analytics", "/console/knowledge/LTG"):
        headers = logged_in.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"


def test_console_pages_have_no_inline_script_or_style(logged_in: TestClient) -> None:
    for path in ("/console/analytics", "/console/knowledge", "/console/explain", "/console/shadow"):
        html = logged_in.get(path).text
        assert "<script>" not in html
        assert " style=" not in html
        assert "<style" not in html
        assert " on" + "click=" not in html


def test_login_limiter_keeps_a_bounded_number_of_addresses() -> None:
    now = [0.0]
    limiter = LoginLimiter(max_failures=2, window_seconds=10, max_addresses=3, clock=lambda: now[0])
    for n in range(10):
        limiter.failed(f"10.0.0.{n}")
    assert len(limiter) == 3
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.retry_after("a") == 11
    now[0] = 10.5
    assert limiter.retry_after("a") is None  # the window has passed


def test_unknown_static_asset_is_not_found(logged_in: TestClient) -> None:
    assert logged_in.get("/console/static/../app.py").status_code in (303, 404)
    assert logged_in.get("/console/static/secret.txt").status_code == 404
