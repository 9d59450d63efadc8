"""A real PostgreSQL for the tests: CDS_TEST_POSTGRES_URL, else a throwaway cluster (scripts/postgres).

The tests that need it skip, naming the reason, only when no server can be started on this machine;
with CDS_TEST_REQUIRE_POSTGRES=1 (set by .ci/run) that is a failure instead. Under pytest-xdist every
worker asks for the cluster: starting is serialised by a lock file, and the cluster a run started is
stopped once, by the controlling process when the whole run ends (a worker stopping it would pull it from
under the others).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"
STARTED_MARK = CACHE / "postgres-started-by-tests"


def _running() -> bool:
    script = REPO / "scripts" / "postgres"
    return subprocess.run([str(script), "status"], capture_output=True, check=False).returncode == 0


def _start_local() -> tuple[str | None, str]:
    """The cluster's URL (started, and marked as started by this run, if it was not running)."""
    CACHE.mkdir(exist_ok=True)
    with (CACHE / "postgres.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _running():
            STARTED_MARK.touch()
        return _start_unlocked()


def _start_unlocked() -> tuple[str | None, str]:
    script = REPO / "scripts" / "postgres"
    try:
        done = subprocess.run(
            [str(script), "start"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"scripts/postgres start failed: {exc}"
    if done.returncode != 0:
        return None, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
    return done.stdout.strip().splitlines()[-1], ""


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a running server (its ``postgres`` database)."""
    url = os.environ.get("CDS_TEST_POSTGRES_URL")
    if not url:
        url, why = _start_local()
        if url is None:
            if os.environ.get("CDS_TEST_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"CDS_TEST_REQUIRE_POSTGRES=1 but no PostgreSQL server: {why}")
            pytest.skip(f"no PostgreSQL server could be started locally: {why}")
    return url


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the throwaway cluster if this run started it (a cluster found running is left alone)."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller stops it
        return
    if STARTED_MARK.exists():
        subprocess.run([str(REPO / "scripts" / "postgres"), "stop"], check=False)
        STARTED_MARK.unlink(missing_ok=True)


def database_url(server: str, name: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the server for one test, dropped afterwards."""
    import psycopg

    name = f"cds_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    yield database_url(postgres_server, name)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
