"""Explain: a pasted request is evaluated without storing or fetching anything, and no page shows the
patient id or a token."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.console.pages import Pages
from cds_service.rules.loader import load_knowledge_base
from tests.console.conftest import BASE, console_settings, csrf_of, log_in
from tests.payloads import CLONAZEPAM, PATIENT_ID, hook_request, ketamine_order, other_order
from tests.pipeline import compiled
from tests.rules.kb_files import copy_cards, set_status
from tests.web.test_shadow_responses import LAMOTRIGINE

ACCESS_TOKEN = "eyJ-explain-access-token-5d1c9"
PAGES = ("/console/analytics", "/console/knowledge", "/console/knowledge/BZD", "/console/shadow")


def _request_with_secrets() -> dict[str, object]:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    body["fhirServer"] = "https://ehr.example.org/fhir"
    body["fhirAuthorization"] = {
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
    }
    return body


def _explain(client: TestClient, text: str, *, as_file: bool = False):
    csrf = csrf_of(client.get("/console/explain").text)
    if as_file:
        files = {"file": ("request.json", text.encode(), "application/json")}
        return client.post("/console/explain", data={"csrf": csrf}, files=files)
    return client.post("/console/explain", data={"csrf": csrf, "request": text})


def test_explain_shows_each_card_with_the_rule_that_produced_it(logged_in: TestClient) -> None:
    response = _explain(logged_in, json.dumps(_request_with_secrets()))
    assert response.status_code == 200
    html = response.text
    assert "produced by <strong>BZD</strong>" in html
    assert "Clonazepam 0.5 MG Oral Tablet" in html  # the record as read
    assert "clonazepam" in html
    assert "MedicationStatement" in html


def test_explain_never_shows_the_patient_id_or_a_token_on_any_page(
    logged_in: TestClient, tmp_path: Path
) -> None:
    pages = [_explain(logged_in, json.dumps(_request_with_secrets())).text]
    pages.append(_explain(logged_in, json.dumps(_request_with_secrets()), as_file=True).text)
    broken = _request_with_secrets()
    broken["context"] = {"patientId": PATIENT_ID, "draftOrders": "not a bundle"}
    pages.append(_explain(logged_in, json.dumps(broken)).text)
    pages += [logged_in.get(path).text for path in PAGES]
    for html in pages:
        assert PATIENT_ID not in html
        assert ACCESS_TOKEN not in html


def test_explain_stores_nothing_and_calls_no_fhir_server(
    logged_in: TestClient, tmp_path: Path
) -> None:
    # The request names a FHIR server and leaves a key out of the prefetch: the tests' network guard
    # fails any attempt to reach it, and explain answers from what was pasted.
    body = _request_with_secrets()
    del body["prefetch"]["medicationRequests"]  # type: ignore[attr-defined]
    response = _explain(logged_in, json.dumps(body))
    assert response.status_code == 200
    database = tmp_path / "data" / "cds.db"
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM evaluations").fetchone() == (0,)


def test_explain_of_a_request_without_ketamine_says_so(logged_in: TestClient) -> None:
    body = hook_request(other_order(), medications=(CLONAZEPAM,))
    assert "No ketamine infusion" in _explain(logged_in, json.dumps(body)).text


def test_explain_of_text_that_is_not_json_says_why(logged_in: TestClient) -> None:
    response = _explain(logged_in, "{not json")
    assert response.status_code == 400
    assert "Not JSON the service accepts" in response.text


def test_explain_of_an_invalid_request_names_the_refusal(logged_in: TestClient) -> None:
    response = _explain(logged_in, json.dumps({"hook": "order-sign"}))
    assert "Refused as the service would refuse it" in response.text
    assert "context" in response.text


def test_explain_with_nothing_pasted_asks_for_a_request(logged_in: TestClient) -> None:
    assert "Paste a hook request" in _explain(logged_in, "  ").text


def test_explain_renders_card_markdown_as_an_ehr_would(logged_in: TestClient) -> None:
    html = _explain(logged_in, json.dumps(_request_with_secrets())).text
    assert "<strong>Clonazepam 0.5 MG Oral Tablet</strong>" in html
    assert "**" not in html


def test_card_markdown_never_passes_raw_html_through() -> None:
    pages = Pages(compiled())
    rendered = pages._env.filters["markdown"](
        "<script>alert(1)</script> [x](javascript:alert(1)) **b**"
    )
    assert "<script>" not in rendered
    assert 'href="javascript:' not in rendered  # left as text, never a link
    assert "<strong>b</strong>" in rendered


def test_a_shadow_rule_counting_a_record_is_named_in_the_trace(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    set_status(cards, "LTG", "shadow")
    app = create_app(console_settings(tmp_path), kb=load_knowledge_base(cards))
    with TestClient(app, base_url=BASE) as client:
        log_in(client)
        body = hook_request(ketamine_order(), medications=(LAMOTRIGINE,))
        html = _explain(client, json.dumps(body)).text
    assert "LTG (shadow)" in html
    assert "Shadow rules that would have fired (never sent): LTG" in html
    assert "Cards (0)" in html


def test_explain_shows_the_engine_trace_match_and_why_ignored(logged_in: TestClient) -> None:
    free = {
        "resourceType": "MedicationStatement",
        "id": "ms-free",
        "status": "active",
        "medicationCodeableConcept": {"text": f"Klonipin 1mg BID per {PATIENT_ID}"},
    }
    unknown = {**free, "id": "ms-unknown", "medicationCodeableConcept": {"text": "Zorblax tea"}}
    stopped = {**CLONAZEPAM, "id": "ms-error", "status": "entered-in-error"}
    body = hook_request(ketamine_order(), medications=(free, unknown, stopped))
    html = _explain(logged_in, json.dumps(body)).text
    assert "Interim trace" not in html
    assert "Klonipin 1mg BID per [removed] (probably clonazepam)" in html
    assert "clonazepam (probable)" in html
    assert "ignored: unrecognised free text" in html
    assert "BZD ignored: status entered-in-error never counts" in html
    assert "(records #1, strong wording)" in html
    assert "1 medication list entry was not recognised" in html
    assert PATIENT_ID not in html


def test_explain_reads_drinking_in_the_list_as_a_hook_call_does(logged_in: TestClient) -> None:
    beers = {
        "resourceType": "MedicationStatement",
        "id": "ms-etoh",
        "status": "active",
        "medicationCodeableConcept": {"text": "Alcohol - 4 to 6 beers daily"},
    }
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM, beers))
    html = _explain(logged_in, json.dumps(body)).text
    assert "produced by <strong>CNSDEP</strong>" in html
    assert "Heavy alcohol use" in html
