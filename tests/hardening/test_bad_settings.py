"""Every bad setting stops the command with one readable line naming it: no traceback, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cds_service import cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env file from the developer's checkout
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("uvicorn.run", _must_not_serve)
    return monkeypatch


def _must_not_serve(*args: object, **kwargs: object) -> None:
    raise AssertionError("uvicorn.run was reached with a bad setting")


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_rule_overrides_that_are_not_json_name_the_setting(env, capsys) -> None:
    env.setenv("CDS_RULE_OVERRIDES", "{bad json")
    assert cli.main(["serve"]) == 2
    assert _one_line(capsys).startswith("error: invalid configuration: CDS_RULE_OVERRIDES")


def test_rule_override_out_of_range_names_the_setting_and_field(env, capsys) -> None:
    env.setenv("CDS_RULE_OVERRIDES", '{"BZD": {"hold_before_hours": -3}}')
    assert cli.main(["serve"]) == 2
    assert "CDS_RULE_OVERRIDES[BZD][hold_before_hours]" in _one_line(capsys)


def test_rule_override_for_a_wrong_case_topic_is_refused_naming_the_known_one(env, capsys) -> None:
    env.setenv("CDS_RULE_OVERRIDES", '{"bzd": {"hold_before_hours": 24}}')
    assert cli.main(["serve"]) == 2
    line = _one_line(capsys)
    assert "CDS_RULE_OVERRIDES: unknown topic 'bzd' (did you mean 'BZD'?)" in line
    assert "RESPDEP" in line  # combination ids are topics too


def test_evaluate_refuses_an_unknown_override_topic_too(env, capsys) -> None:
    env.setenv("CDS_RULE_OVERRIDES", '{"NOPE": {"enabled": false}}')
    request = REPO / "tests" / "fixtures" / "requests" / "order-sign-ketamine.json"
    assert cli.main(["evaluate", str(request)]) == 2
    assert "unknown topic 'NOPE'" in _one_line(capsys)


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_serve_on_a_port_out_of_range_names_it(env, capsys, port: str) -> None:
    assert cli.main(["serve", "--port", port]) == 2
    assert _one_line(capsys) == f"error: --port {port}: must be between 1 and 65535"


def test_jwt_mode_without_trusted_issuers_stops_naming_the_setting(env, capsys) -> None:
    env.setenv("CDS_AUTH", "jwt")
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 2
    line = _one_line(capsys)
    assert line.startswith("error: invalid configuration: CDS_TRUSTED_ISSUERS:")
    assert "CDS_AUTH=jwt" in line


def test_unknown_database_scheme_names_the_setting(env, capsys) -> None:
    env.setenv("CDS_DATABASE_URL", "mysql://db/cds")
    assert cli.main(["serve"]) == 2
    assert _one_line(capsys).startswith("error: invalid configuration: CDS_DATABASE_URL:")


def test_the_image_defaults_without_issuers_exit_at_once_with_one_line(tmp_path: Path) -> None:
    # The Dockerfile's environment and command, as a process: no traceback, no silent 401s.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update(CDS_DATA_DIR=str(tmp_path / "data"), CDS_AUTH="jwt")
    done = subprocess.run(
        [sys.executable, "-m", "cds_service", "serve", "--host", "0.0.0.0", "--port", "8000"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: invalid configuration: CDS_TRUSTED_ISSUERS:")


@pytest.mark.parametrize("token", [None, "too-short-a-console-token"])
def test_console_without_a_long_enough_token_stops_serve_naming_it(env, capsys, token) -> None:
    env.setenv("CDS_CONSOLE", "on")
    if token:
        env.setenv("CDS_CONSOLE_TOKEN", token)
    assert cli.main(["serve"]) == 2
    line = _one_line(capsys)
    assert line.startswith("error: invalid configuration: CDS_CONSOLE_TOKEN: ")
    assert "at least 32 characters" in line
    assert not token or token not in line
