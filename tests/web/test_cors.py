"""CORS: the CDS Hooks Sandbox, served from another origin, can preflight without a token and read answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import SERVICE_URL, make_app, make_settings

SANDBOX = "http://127.0.0.1:18080"


def _preflight(client: TestClient, path: str, method: str, headers: str) -> httpx.Response:
    return client.options(
        path,
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize("auth", ["off", "jwt"])
@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        ("/cds-services", "GET", "authorization"),
        (SERVICE_URL, "POST", "authorization,content-type"),
        (f"{SERVICE_URL}/feedback", "POST", "authorization,content-type"),
    ],
)
def test_preflight_when_from_the_sandbox_origin_succeeds_without_a_token(
    tmp_path: Path, auth: str, path: str, method: str, headers: str
) -> None:
    issuers = {"https://ehr.example.org": {"jwks_url": "https://ehr.example.org/jwks"}}
    trusted = issuers if auth == "jwt" else {}
    settings = make_settings(tmp_path, auth=auth, cors_origins=(SANDBOX,), trusted_issuers=trusted)
    with TestClient(make_app(settings)) as client:
        response = _preflight(client, path, method, headers)
    assert response.status_code == 200
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert response.headers["access-control-allow-origin"] == SANDBOX


def test_response_when_to_the_sandbox_origin_carries_allow_origin(client: TestClient) -> None:
    response = client.get("/cds-services", headers={"Origin": SANDBOX})
    assert response.headers["access-control-allow-origin"] == SANDBOX


def test_response_when_origin_not_configured_has_no_allow_origin(tmp_path: Path) -> None:
    app = make_app(make_settings(tmp_path, cors_origins=(SANDBOX,)))
    with TestClient(app) as client:
        response = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_when_set_in_the_environment_replace_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDS_CORS_ORIGINS", "https://ehr.example.org, http://localhost:3000")
    app = make_app(make_settings(tmp_path))
    with TestClient(app) as client:
        response = _preflight(client, "/cds-services", "GET", "authorization")
        ok = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert "access-control-allow-origin" not in response.headers  # the sandbox is no longer allowed
    assert ok.headers["access-control-allow-origin"] == "https://ehr.example.org"
