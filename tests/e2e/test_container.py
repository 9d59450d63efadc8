"""The container as shipped: build context, image settings, the compose fleet and its documentation.

Without a Docker engine the files are checked as data; where ``docker info`` works, the compose stack
is built and started, and spoken to through its load balancer.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.yaml_io import load_yaml

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text("utf-8")
DOCKERFILE = (REPO / "Dockerfile").read_text("utf-8")
COMPOSE = load_yaml(REPO / "docker-compose.yml")


def _ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule, as far as these patterns need it: a pattern matches a leading part of the path;
    ``**/name`` matches that name anywhere."""
    parts = relative.split("/")
    leading = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatch(path, pattern) for path in leading):
            return True
    return False


def _context_files() -> list[str]:
    lines = (REPO / ".dockerignore").read_text("utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    files = (p.relative_to(REPO).as_posix() for p in REPO.rglob("*") if p.is_file())
    return [f for f in files if not _ignored(f, patterns)]


def _section(title: str) -> str:
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_build_context_holds_no_environment_data_cache_or_history() -> None:
    context = _context_files()
    unwanted = (".venv/", ".cds-data/", ".cache/", ".git/", "__pycache__/")
    assert [f for f in context if f.startswith(unwanted) or "/__pycache__/" in f] == []
    assert [f for f in context if f.endswith((".db", ".db-journal", ".db-wal"))] == []
    assert "pyproject.toml" in context
    assert "cds_service/app.py" in context
    assert any(f.startswith("cards/rules/") for f in context)


def test_image_keeps_its_store_in_a_data_volume() -> None:
    assert re.search(r"^ENV .*CDS_DATA_DIR=/data", DOCKERFILE, flags=re.M)
    assert 'VOLUME ["/data"]' in DOCKERFILE
    assert "chown cds /data" in DOCKERFILE


def test_image_command_is_the_one_the_readme_documents() -> None:
    (command,) = re.findall(r"^CMD (\[.*\])$", DOCKERFILE, flags=re.M)
    assert f"The image runs `{' '.join(json.loads(command))}`" in _section("Run the container")


def test_readme_gives_the_commands_to_run_the_image_read_only_and_the_compose_fleet() -> None:
    section = _section("Run the container")
    assert "docker build -t ketamine-cds ." in section
    assert re.search(r"docker run --rm --read-only -v cds-data:/data .*ketamine-cds", section, re.S)
    assert "docker compose up -d --build --wait" in section
    assert "docker compose down -v" in section


def test_compose_runs_replicas_on_postgres_behind_a_load_balancer() -> None:
    services = COMPOSE["services"]
    cds = services["cds"]
    assert cds["deploy"]["replicas"] >= 2
    assert cds["read_only"] is True
    assert cds["environment"]["CDS_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in cds["environment"]["CDS_DATABASE_URL"]
    assert cds["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["lb"]["ports"] == ["127.0.0.1:8080:8080"]
    nginx = COMPOSE["configs"]["nginx"]["content"]
    assert "server cds:8000" in nginx
    # compose interpolates $name: every nginx variable must be written $$name.
    assert re.findall(r"(?<!\$)\$(?!\$)\w+", nginx) == []


def _docker_compose_available() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "`docker info` fails: no Docker engine reachable"
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return None if compose.returncode == 0 else "no `docker compose` plugin"


@pytest.mark.integration
def test_compose_stack_builds_starts_and_serves_through_the_load_balancer() -> None:
    missing = _docker_compose_available()
    if missing:
        pytest.skip(missing)
    project = ["docker", "compose", "-p", f"cds-test-{uuid.uuid4().hex[:8]}"]
    subprocess.run([*project, "up", "-d", "--build", "--wait"], cwd=REPO, check=True, timeout=900)
    try:
        base = "http://127.0.0.1:8080"
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/ready", timeout=2).status_code != 200:
            assert time.monotonic() < deadline, "the fleet never became ready"
            time.sleep(1)
        body = json.loads((REPO / "tests/fixtures/requests/order-sign-ketamine.json").read_text())
        answer = httpx.post(f"{base}/cds-services/ketamine-infusion-check", json=body, timeout=10)
        assert answer.status_code == 200
        assert "cds_evaluations_total" in httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        subprocess.run([*project, "down", "-v"], cwd=REPO, check=False, timeout=300)
