"""CDS_AUTH=jwt through the real app: bare 401s, a reason in the log, preflight and health open."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.auth.conftest import JWKS_URL, FrozenClock, Minter, SigningKey, jwks
from tests.hardening.harness import (
    SERVICE_PATH,
    Send,
    hardening_settings,
    hook_body,
    running_app,
)

BASE = "http://testserver"
ISS = "https://ehr.example.org"


@pytest.fixture
def send(tmp_path: Path, ec_key: SigningKey) -> Iterator[Send]:
    config = hardening_settings(
        tmp_path,
        auth="jwt",
        trusted_issuers={ISS: {"jwks_url": JWKS_URL}},
        cors_origins="https://sandbox.cds-hooks.org",
    )
    with running_app(config, outbound_json={JWKS_URL: jwks(ec_key)}) as send:
        yield send


@pytest.fixture
def live_minter() -> Minter:
    # The app checks exp/iat against the real clock.
    import time

    return Minter(FrozenClock(time.time()))


def test_hook_when_token_valid_answers_cards(
    send: Send, live_minter: Minter, ec_key: SigningKey
) -> None:
    token = live_minter.bearer(ec_key, aud=BASE + SERVICE_PATH)

    response = send("POST", SERVICE_PATH, json=hook_body(), headers={"Authorization": token})

    assert response.status_code == 200
    assert response.json()["cards"]


@pytest.mark.parametrize(
    ("path", "method"),
    [("/cds-services", "GET"), (SERVICE_PATH, "POST"), (SERVICE_PATH + "/feedback", "POST")],
)
def test_endpoint_when_token_for_another_url_answers_bare_401_and_logs_reason(
    send: Send,
    live_minter: Minter,
    ec_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
    path: str,
    method: str,
) -> None:
    token = live_minter.bearer(ec_key, aud=BASE + "/elsewhere", jti="jti-logged")

    with caplog.at_level(logging.WARNING):
        response = send(method, path, json={}, headers={"Authorization": token})

    assert (response.status_code, response.content) == (401, b"")
    failures = [r for r in caplog.records if getattr(r, "reason", None) == "bad-audience"]
    assert [(r.__dict__["iss"], r.__dict__["jti"]) for r in failures] == [(ISS, "jti-logged")]
    assert token.split()[1] not in caplog.text


def test_discovery_when_no_token_answers_401(send: Send) -> None:
    assert send("GET", "/cds-services").status_code == 401


def test_preflight_when_no_token_is_answered_with_cors_headers(send: Send) -> None:
    response = send(
        "OPTIONS",
        SERVICE_PATH,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )

    assert response.status_code == 200
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_health_when_no_token_answers_200(send: Send) -> None:
    assert send("GET", "/health").status_code == 200


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    authorization=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300).map(
        lambda t: f"Bearer {t}"
    )
    | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300)
)
def test_hook_when_authorization_header_is_garbage_answers_401_never_5xx(
    send: Send, authorization: str
) -> None:
    response = send(
        "POST", SERVICE_PATH, json=hook_body(), headers={"Authorization": authorization}
    )

    assert response.status_code == 401
