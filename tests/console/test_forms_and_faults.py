"""Console forms within the body limits, a bearer caller's posts, and a store that is down."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import make_app
from tests.console.conftest import BASE, TOKEN, console_settings, csrf_of, log_in
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_bearer_caller_posts_explain_without_a_csrf_token(anonymous: TestClient) -> None:
    body = json.dumps(hook_request(ketamine_order(), medications=(CLONAZEPAM,)))
    response = anonymous.post("/console/explain", data={"request": body}, headers=BEARER)
    assert response.status_code == 200
    assert "produced by <strong>BZD</strong>" in response.text


def test_console_root_leads_to_the_analytics(logged_in: TestClient) -> None:
    response = logged_in.get("/console", follow_redirects=False)
    assert response.headers["location"] == "/console/analytics"


def test_explain_post_over_the_body_limit_is_refused(tmp_path: Path) -> None:
    with TestClient(make_app(console_settings(tmp_path, max_body_bytes=2000)), base_url=BASE) as c:
        log_in(c)
        csrf = csrf_of(c.get("/console/explain").text)
        response = c.post("/console/explain", data={"csrf": csrf, "request": "x" * 5000})
    assert response.status_code == 413


def test_console_form_of_another_content_type_is_refused(logged_in: TestClient) -> None:
    response = logged_in.post(
        "/console/explain", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 415


def test_malformed_multipart_form_is_refused_not_a_500(logged_in: TestClient) -> None:
    response = logged_in.post(
        "/console/explain",
        content=b"--b\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400


def test_form_that_is_not_utf8_is_refused_not_a_500(anonymous: TestClient) -> None:
    anonymous.get("/console/login")
    response = anonymous.post(
        "/console/login",
        content=b"token=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400


def test_pages_that_read_the_store_say_when_it_is_down(tmp_path: Path) -> None:
    settings = console_settings(tmp_path, database_url="sqlite:////proc/no-such-dir/cds.db")
    with TestClient(make_app(settings), base_url=BASE) as client:
        log_in(client)
        for path in ("/console/analytics", "/console/shadow"):
            response = client.get(path)
            assert response.status_code == 503
            assert "The store is unavailable" in response.text
        assert client.get("/console/knowledge").status_code == 200  # needs no store
