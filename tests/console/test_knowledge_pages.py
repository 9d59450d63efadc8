"""The knowledge base, browsable: every topic, its members, hold, evidence, reasons and cases; provenance."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from markupsafe import escape

from tests.conftest import make_app
from tests.console.conftest import BASE, console_settings, log_in
from tests.pipeline import compiled, knowledge_base


def test_knowledge_index_lists_every_topic_with_its_status(logged_in: TestClient) -> None:
    html = logged_in.get("/console/knowledge").text
    listed = re.findall(r'<tr data-topic="([A-Z0-9]+)">', html)
    assert listed == [rule.id for rule in knowledge_base().rules]
    for combination in knowledge_base().manifest.combinations:
        assert f"<strong>{combination.id}</strong>" in html


def test_every_topic_page_shows_members_hold_evidence_reasons_and_cases(
    logged_in: TestClient,
) -> None:
    for rule in compiled().rules:
        html = logged_in.get(f"/console/knowledge/{rule.id}").text
        assert escape(f"{rule.id}: {rule.title}") in html
        assert f"Evidence: grade {rule.evidence.grade}" in html
        for member in rule.members:
            assert f'<th scope="row">{escape(member.name)}' in html
            if member.rxcui:
                assert member.rxcui in html
        for reason in rule.override_reasons:
            assert f"<code>{reason.code}</code>" in html
        cases = knowledge_base().cases.get(rule.id)
        for case in cases.cases if cases else ():
            assert f"<code>{case.name}</code>" in html
            assert f"outcome-{case.expect.outcome}" in html


def test_topic_page_names_the_hl7_display_beside_our_card_wording(logged_in: TestClient) -> None:
    html = logged_in.get("/console/knowledge/LTG").text
    assert "Patient is not taking this medication" in html
    assert "PC CDS does not apply to patient" in html
    assert "No dose due within the hold window" in html  # one of ours


def test_topic_page_shows_the_hold_and_washout_after_site_overrides(tmp_path: Path) -> None:
    overrides = {"BZD": {"hold_before_hours": 24, "washout_days": 9}}
    settings = console_settings(tmp_path, rule_overrides=json.loads(json.dumps(overrides)))
    with TestClient(make_app(settings), base_url=BASE) as client:
        log_in(client)
        html = client.get("/console/knowledge/BZD").text
    assert "24 h before" in html
    assert "9 days" in html
    assert "Site overrides" in html
    assert "washout_days: " in html


def test_every_console_page_names_the_knowledge_base_version_and_rxnorm_provenance(
    logged_in: TestClient,
) -> None:
    manifest = knowledge_base().manifest
    rxnorm = " ".join(manifest.rxnorm_version.split())
    paths = ["/console/login", "/console/analytics", "/console/knowledge"]
    paths += ["/console/knowledge/OPIOID", "/console/explain", "/console/shadow"]
    for path in paths:
        html = logged_in.get(path).text
        assert f"version <strong>{manifest.version}</strong>" in html, path
        assert rxnorm in html, path


def test_unknown_topic_is_not_found(logged_in: TestClient) -> None:
    response = logged_in.get("/console/knowledge/NOPE")
    assert response.status_code == 404
    assert "No such topic" in response.text


def test_pages_have_landmarks_labels_and_a_skip_link(logged_in: TestClient) -> None:
    for path in ("/console/analytics", "/console/explain", "/console/knowledge"):
        html = logged_in.get(path).text
        assert '<main id="main"' in html
        assert '<nav aria-label="Console sections">' in html
        assert 'href="#main"' in html
        assert '<html lang="en">' in html
    explain = logged_in.get("/console/explain").text
    for field in ("request", "file"):
        assert f'<label for="{field}">' in explain
        assert f'id="{field}"' in explain
