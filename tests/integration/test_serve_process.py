"""``serve`` as a container runs it: the start-up line, SIGTERM writes pending audit, a degraded start."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import serving
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order

pytestmark = pytest.mark.integration
SERVICE = "/cds-services/ketamine-infusion-check"


def test_serve_logs_one_start_up_line_with_the_url_and_the_auth_mode(tmp_path: Path) -> None:
    with serving(tmp_path, "s", CDS_AUTH="off") as service:
        lines = [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines if "listening" in line["message"]]
    assert messages == [
        f"cds-service listening on {service.base} (auth: off (EHR JWTs are not verified))"
    ]


def test_serve_stopped_with_sigterm_writes_every_audit_record_it_answered(tmp_path: Path) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    with serving(tmp_path, "s") as service, httpx.Client(base_url=service.base) as client:
        answered = [client.post(SERVICE, json=body).status_code for _ in range(40)]
        # uvicorn shuts down gracefully (lifespan included), then re-raises SIGTERM: exit -15.
        assert service.stop() in (0, -15)
    assert answered == [200] * 40
    with sqlite3.connect(tmp_path / "s-data" / "cds.db") as db:
        assert db.execute("SELECT COUNT(*) FROM evaluations").fetchone() == (40,)


def test_serve_with_an_unusable_data_directory_starts_degraded_and_serves_cards(
    tmp_path: Path,
) -> None:
    # What `docker run --read-only` without a /data volume amounts to: the store cannot be created.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    with serving(tmp_path, "s", CDS_DATA_DIR=str(blocker / "data")) as service:
        cards = httpx.post(service.base + SERVICE, json=body)
        ready = httpx.get(service.base + "/ready")
        feedback = httpx.post(service.base + SERVICE + "/feedback", json={"feedback": []})
        log = service.log()
    assert cards.status_code == 200
    assert cards.json()["cards"]
    assert ready.status_code == 503
    assert feedback.status_code in (400, 503)
    assert "store unavailable at start-up" in log
    assert "Traceback" not in log
