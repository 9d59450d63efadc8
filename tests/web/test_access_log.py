"""The access log: one line per request with method, path, status, duration and hookInstance."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SERVICE_URL
from tests.payloads import CLONAZEPAM, PATIENT_ID, hook_request, ketamine_order

SANDBOX = "http://127.0.0.1:18080"


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "cds_service.access"]


def test_access_log_line_per_hook_call_names_status_and_hook_instance(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    with caplog.at_level(logging.INFO, logger="cds_service.access"):
        client.post(f"{SERVICE_URL}?patient={PATIENT_ID}", json=body)
    (line,) = _access_lines(caplog)
    assert (line.method, line.path, line.status) == ("POST", SERVICE_URL, 200)  # type: ignore[attr-defined]
    assert line.hook_instance == body["hookInstance"]  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    assert PATIENT_ID not in str(line.__dict__)  # never the query string


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/cds-services", 200), ("GET", "/cds-services/nope/x", 404)],
)
def test_access_log_covers_discovery_and_errors(
    client: TestClient, caplog: pytest.LogCaptureFixture, method: str, path: str, status: int
) -> None:
    with caplog.at_level(logging.INFO, logger="cds_service.access"):
        client.request(method, path)
    (line,) = _access_lines(caplog)
    assert (line.method, line.status) == (method, status)  # type: ignore[attr-defined]
    assert not hasattr(line, "hook_instance")


def test_access_log_covers_cors_preflight(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Origin": SANDBOX, "Access-Control-Request-Method": "POST"}
    with caplog.at_level(logging.INFO, logger="cds_service.access"):
        client.options(f"{SERVICE_URL}/feedback", headers=headers)
    (line,) = _access_lines(caplog)
    assert (line.method, line.status) == ("OPTIONS", 200)  # type: ignore[attr-defined]


def test_access_log_leaves_out_a_hook_instance_that_is_not_an_identifier(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    body["hookInstance"] = "Jane Doe, born 1970"
    with caplog.at_level(logging.INFO, logger="cds_service.access"):
        client.post(SERVICE_URL, json=body)
    (line,) = _access_lines(caplog)
    assert not hasattr(line, "hook_instance")
