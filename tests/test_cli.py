"""The command line: serve (start-up safety on a public address), evaluate, and feedback-report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service import cli
from cds_service.settings import Settings
from tests.conftest import make_app
from tests.console.conftest import versions as console_versions
from tests.console.seed import seed_url
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order, other_order


def test_serve_when_public_address_and_auth_off_refuses_to_bind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_AUTH", "off")
    monkeypatch.delenv("CDS_ALLOW_UNAUTHENTICATED_PUBLIC_BIND", raising=False)
    started: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(a))
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 2
    assert not started
    assert "refusing to bind 0.0.0.0" in capsys.readouterr().err


def test_serve_when_public_bind_allowed_explicitly_binds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CDS_AUTH", "off")
    monkeypatch.setenv("CDS_ALLOW_UNAUTHENTICATED_PUBLIC_BIND", "true")
    started: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(k))
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert started[0]["host"] == "0.0.0.0"
    assert started[0]["port"] == 8123


@pytest.mark.parametrize(("workers", "setting", "kept"), [("1", None, 75), ("2", "90", 90)])
def test_serve_keeps_idle_connections_longer_than_a_load_balancers_idle_timeout(
    monkeypatch: pytest.MonkeyPatch, workers: str, setting: str | None, kept: int
) -> None:
    if setting is not None:
        monkeypatch.setenv("CDS_KEEP_ALIVE_SECONDS", setting)
    started: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(k))
    assert cli.main(["serve", "--port", "8125", "--workers", workers]) == 0
    assert started[0]["timeout_keep_alive"] == kept


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_gives_uvicorn_the_json_log_config(
    monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    started: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(k))
    assert cli.main(["serve", "--port", "8124", "--workers", workers]) == 0
    config = started[0]["log_config"]
    assert isinstance(config, dict)
    assert config["formatters"] == {"json": {"()": "cds_service.logs.JsonFormatter"}}


def test_evaluate_when_ketamine_and_clonazepam_prints_the_bzd_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    request = tmp_path / "request.json"
    request.write_text(json.dumps(hook_request(ketamine_order(), medications=(CLONAZEPAM,))))
    assert cli.main(["evaluate", str(request)]) == 0
    cards = json.loads(capsys.readouterr().out)["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["BZD"]


def test_evaluate_when_order_not_ketamine_prints_no_cards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    request = tmp_path / "request.json"
    request.write_text(json.dumps(hook_request(other_order(), medications=(CLONAZEPAM,))))
    assert cli.main(["evaluate", str(request)]) == 0
    assert json.loads(capsys.readouterr().out) == {"cards": []}


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not JSON"), ('{"hook": "order-sign"}', "invalid hook request")],
)
def test_evaluate_when_input_invalid_exits_non_zero_with_a_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    request = tmp_path / "request.json"
    request.write_text(content)
    assert cli.main(["evaluate", str(request)]) != 0
    assert message in capsys.readouterr().err


def test_evaluate_when_file_missing_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["evaluate", str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def _feedback(card: str, outcome: str, at: str, code: str | None = None) -> dict:
    item: dict = {"card": card, "outcome": outcome, "outcomeTimestamp": at}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": "s-1"}]
    if code:
        system = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
        item["overrideReason"] = {"reason": {"code": code, "system": system}}
    return item


def _report_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: list, capsys, *flags: str
) -> str:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    app = make_app(Settings(_env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as client:
        cards = client.post(
            "/cds-services/ketamine-infusion-order-sign",
            json=hook_request(ketamine_order(), medications=(CLONAZEPAM,)),
        ).json()["cards"]
        feedback = [{**item, "card": cards[0]["uuid"]} for item in items]
        url = "/cds-services/ketamine-infusion-order-sign/feedback"
        assert client.post(url, json={"feedback": feedback}).status_code == 200
    capsys.readouterr()
    assert cli.main(["feedback-report", *flags]) == 0
    return capsys.readouterr().out


def test_feedback_report_when_card_overridden_counts_it_per_topic_with_display_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    items = [_feedback("x", "overridden", "2026-11-27T10:00:00Z", "action-completed")]
    out = _report_after(tmp_path, monkeypatch, items, capsys, "--json")
    rows = {row["topic"]: row for row in json.loads(out)}
    assert rows["BZD"]["cards_shown"] == 1
    assert rows["BZD"]["overridden"] == 1
    assert rows["BZD"]["override_reasons"] == [
        {
            "code": "action-completed",
            "display": "Dose already held or timed around the infusion",
            "cards": 1,
        }
    ]


def test_feedback_report_when_card_accepted_then_dismissed_counts_it_once_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The Sandbox keeps a card on screen after its suggestion is taken; the clinician then dismisses it.
    items = [
        _feedback("x", "accepted", "2026-11-27T10:00:00Z"),
        _feedback("x", "overridden", "2026-11-27T10:00:05Z", "risk-benefit-ratio"),
    ]
    out = _report_after(tmp_path, monkeypatch, items, capsys)
    (bzd,) = [line for line in out.splitlines() if line.startswith("BZD")]
    assert bzd.split()[1:4] == ["1", "1", "0"]  # shown, accepted, overridden
    assert "Benefit outweighs the risk for this patient [risk-benefit-ratio] (1)" in bzd
    assert "1 BZD card was both accepted and dismissed; each is counted once, as accepted." in out


def test_feedback_report_html_writes_the_analytics_page_with_its_charts_inlined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CDS_CONSOLE_FLAG_MIN_CARDS", "10")
    monkeypatch.setenv("CDS_CONSOLE_FLAG_OVERRIDE_RATE", "0.5")
    seed_url(f"sqlite:///{tmp_path / 'data' / 'cds.db'}", console_versions())
    target = tmp_path / "report.html"
    assert cli.main(["feedback-report", "--html", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {target}"
    html = target.read_text("utf-8")
    assert "Chart.js v4.6.1" in html  # the library itself, inlined
    assert 'id="chart-data"' in html
    assert "<script src=" not in html
    assert 'rel="stylesheet"' not in html
    assert not re.search(r"""(src|href)=["']https?://""", html)  # nothing fetched from a network
    # Both flagged under the site's thresholds (50 % over 10): BZD at 95 % of 60, LTG at 50 % of 10.
    assert 'data-topic="BZD"' in html
    assert 'data-topic="LTG"' in html
    assert "57 of 60 cards with feedback overridden" in html


def test_feedback_report_html_without_a_store_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATABASE_URL", "sqlite:////proc/no-such-dir/cds.db")
    assert cli.main(["feedback-report", "--html", str(tmp_path / "r.html")]) == 1
    assert capsys.readouterr().err.startswith("error: the store is unavailable")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    "content",
    ['{"hook": NaN}', "[" * 3000 + "]" * 3000],
    ids=["nan", "nested-3000-deep"],
)
def test_evaluate_when_json_refused_by_the_http_route_exits_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str,
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    request = tmp_path / "request.json"
    request.write_text(content)
    assert cli.main(["evaluate", str(request)]) == 2
    assert "is not JSON the service accepts" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "http://127.0.0.1:8123"), ("::1", "http://[::1]:8123")],
)
def test_serve_when_started_prints_the_url_it_listens_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str, url: str
) -> None:
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: None)
    assert cli.main(["serve", "--host", host, "--port", "8123"]) == 0
    assert f"listening on {url} (discovery: {url}/cds-services)" in capsys.readouterr().out


def _upcoming_booking(tmp_path: Path) -> Path:
    from datetime import UTC, datetime, timedelta

    from tests.cdshooks.appointments import appointment, book_request

    start = (datetime.now(UTC) + timedelta(days=3)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    path = tmp_path / "booking.json"
    path.write_text(json.dumps(book_request(appointment(start=start))), "utf-8")
    return path


def test_plan_prints_the_patient_plan_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CDS_TIMEZONE", "UTC")
    assert cli.main(["plan", str(_upcoming_booking(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Your medicines before your ketamine infusion\n")
    assert "Your infusion is at 3:00 pm on " in out
    assert "Take your last dose of clonazepam" in out
    assert "no later than 3:00 am on" in out
    assert "All times are clinic time (UTC)." in out


def test_plan_html_is_a_printable_page_from_the_same_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["plan", "--html", str(_upcoming_booking(tmp_path))]) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!DOCTYPE html>")
    assert "<h1>Your medicines before your ketamine infusion</h1>" in page
    assert "Tell the care team about every other medicine" in page
    assert "St John&#x27;s wort" in page


def test_plan_when_no_ketamine_in_the_request_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "request.json"
    path.write_text(json.dumps(hook_request(other_order())), "utf-8")
    assert cli.main(["plan", str(path)]) == 1
    assert "no ketamine infusion" in capsys.readouterr().err


def test_plan_html_escapes_every_text() -> None:
    from cds_service.render.patient import MedicinePlan, PatientPlan
    from cds_service.render.plan import plan_html

    plan = PatientPlan(
        title="<b>Plan</b>",
        sessions=(("Appointment/a", "At <noon>"),),
        medicines=(MedicinePlan("BZD", ("r",), "x", (("Appointment/a", "<script>x</script>"),)),),
        general="A & B",
        no_changes="none",
        zone="Zone <z>",
    )
    page = plan_html(plan)
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "&lt;b&gt;Plan&lt;/b&gt;" in page
    assert "A &amp; B" in page


def test_serving_app_raises_the_young_collection_threshold(tmp_path: Path) -> None:
    import gc

    from cds_service.cli import serve
    from cds_service.ops.runtime import GEN0_THRESHOLD

    before = gc.get_threshold()
    try:
        serve.serving_app(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
        assert gc.get_threshold() == (GEN0_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
