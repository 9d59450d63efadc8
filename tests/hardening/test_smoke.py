"""The hardening harness reaches the real service: a well-formed hook call is answered 200."""

from __future__ import annotations

from pathlib import Path

from tests.hardening.harness import SERVICE_PATH, hardening_settings, hook_body, running_app


def test_harness_when_valid_hook_posted_answers_cards(tmp_path: Path) -> None:
    with running_app(hardening_settings(tmp_path)) as send:
        response = send("POST", SERVICE_PATH, json=hook_body())

    assert response.status_code == 200
    assert response.json()["cards"], response.text
