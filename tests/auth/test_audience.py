"""expected_audience: the exact URL a client must sign, built from the public base URL when set."""

from __future__ import annotations

import pytest

from cds_service.auth.authenticator import expected_audience


@pytest.mark.parametrize(
    ("public_base_url", "request_url", "path", "expected"),
    [
        (
            "https://cds.example.org/",
            "http://10.0.0.5:8000/",
            "/cds-services",
            "https://cds.example.org/cds-services",
        ),
        (
            "https://h.example/ket",
            "http://internal/",
            "/cds-services/x/feedback",
            "https://h.example/ket/cds-services/x/feedback",
        ),
        (None, "http://127.0.0.1:8080/", "/cds-services/x", "http://127.0.0.1:8080/cds-services/x"),
        (
            None,
            "https://proxy.example/base/",
            "/cds-services",
            "https://proxy.example/base/cds-services",
        ),
        (
            None,
            "http://127.0.0.1:8080/cds-services/x?q=1",
            "/cds-services/x",
            "http://127.0.0.1:8080/cds-services/x",
        ),
        (None, "http://h.example/api/", "/api/cds-services", "http://h.example/api/cds-services"),
        ("", "http://localhost:9000", "/cds-services", "http://localhost:9000/cds-services"),
    ],
)
def test_expected_audience_when_base_given_or_not_builds_exact_url(
    public_base_url: str | None, request_url: str, path: str, expected: str
) -> None:
    assert expected_audience(public_base_url, request_url, path) == expected
