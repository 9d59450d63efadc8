"""``evaluate --explain``: each record as read, what each class made of it, the rule behind each card."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cds_service import cli
from tests.payloads import CLONAZEPAM, PATIENT_ID, RXNORM, hook_request, ketamine_order, statement

TOKEN = "secret-bearer-token-1234567890"


def _free_text(stmt_id: str, text: str, status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": stmt_id,
        "status": status,
        "medicationCodeableConcept": {"text": text},
    }


MEDICATIONS = (
    CLONAZEPAM,
    _free_text("ms-2", "Klonipin 1mg BID"),
    _free_text("ms-3", f"Zorblax tea, see note for {PATIENT_ID}"),
    statement("ms-4", "2002", "carbamazepine", status="entered-in-error"),
    statement("ms-5", "7646", "omeprazole"),
    statement(
        "ms-6", "28439", "lamotrigine", status="stopped", effectivePeriod={"end": "2026-01-01"}
    ),
)


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *flags: str) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    body = hook_request(ketamine_order(), medications=MEDICATIONS)
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "subject": "x"}
    body["fhirServer"] = "https://ehr.example/fhir"
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body))
    assert cli.main(["evaluate", str(request), "--explain", *flags]) == 0


def test_evaluate_explain_prints_each_record_and_the_rule_per_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert "#1 MedicationStatement: Clonazepam 0.5 MG Oral Tablet" in out
    assert "ingredients clonazepam (exact match); status active; dose 1 tablet twice daily" in out
    assert "#2 MedicationStatement: Klonipin 1mg BID (probably clonazepam)" in out
    assert "ingredients clonazepam (probable match)" in out
    assert "ignored: unrecognised free text" in out
    assert "AED: ignored: status entered-in-error never counts" in out
    assert "CYPIND: ignored: status entered-in-error never counts" in out
    assert "#5 MedicationStatement: omeprazole\n     ignored: no interacting ingredient" in out
    assert "LTG: ignored: stopped 331 days before: outside the 3-day washout" in out
    assert re.search(r"produced by rule BZD v\d+ \(strong wording\) from #1, #2\n", out)
    assert "1 medication list entry was not recognised" in out


def test_evaluate_explain_never_prints_patient_id_or_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for flags in ((), ("--json",)):
        _run(tmp_path, monkeypatch, *flags)
        out = capsys.readouterr().out
        assert PATIENT_ID not in out
        assert TOKEN not in out
        assert "Zorblax tea, see note for [removed]" in out


def test_evaluate_explain_json_is_the_typed_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(tmp_path, monkeypatch, "--json")
    body = json.loads(capsys.readouterr().out)
    records = body["trace"]["records"]
    assert [r["outcome"] for r in records] == [
        "read",
        "read",
        "unrecognised free text",
        "read",
        "no interacting ingredient",
        "read",
    ]
    assert records[1]["match"] == "probable"
    assert records[0]["classes"] == [
        {"topic": "BZD", "counted": True, "reason": "current", "shadow": False}
    ]
    bzd = next(f for f in body["trace"]["findings"] if f["topic"] == "BZD")
    assert bzd["records"] == [1, 2]
    assert {c["source"]["topic"]["code"] for c in body["cards"]} == {"BZD", "DATAGAP"}


def test_evaluate_explain_when_no_ketamine_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    order = ketamine_order()
    order["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": "7646"}]}
    request = tmp_path / "request.json"
    request.write_text(json.dumps(hook_request(order, medications=(CLONAZEPAM,))))
    assert cli.main(["evaluate", str(request), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "No ketamine infusion in this request: no cards." in out
    assert "Cards (0):" in out


def test_evaluate_explain_when_request_invalid_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"hook": "order-sign"}))
    assert cli.main(["evaluate", str(request), "--explain"]) == 2
    assert "invalid hook request" in capsys.readouterr().err


def test_evaluate_explain_names_the_classes_folded_into_a_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    carbamazepine = statement("ms-cbz", "2002", "carbamazepine")
    request = tmp_path / "request.json"
    request.write_text(json.dumps(hook_request(ketamine_order(), medications=(carbamazepine,))))
    assert cli.main(["evaluate", str(request), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "     AED: counted: current\n     CYPIND: counted: current" in out
    assert "; with the reasons of CYPIND folded in" in out
    assert "Cards (1):" in out


def test_evaluate_explain_when_a_rule_fails_shows_the_data_gap_card_the_ehr_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cds_service.rules import engine

    real = engine._evaluate_rule

    def broken(rule: Any, *args: Any) -> Any:
        if rule.id == "BZD":
            raise ZeroDivisionError
        return real(rule, *args)

    monkeypatch.setattr(engine, "_evaluate_rule", broken)
    _run(tmp_path, monkeypatch)
    out = capsys.readouterr().out
    # The hook call answers a failed class with a data-gap card; the trace must show the same.
    assert "Interaction check BZD" in out


def test_evaluate_explain_says_why_a_denied_substance_entry_gave_no_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path / "data"))
    denied = _free_text("ms-denied", "Denies cocaine use")
    request = tmp_path / "request.json"
    request.write_text(json.dumps(hook_request(ketamine_order(), medications=(denied,))))
    assert cli.main(["evaluate", str(request), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "#1 MedicationStatement: Denies cocaine use\n     ignored: use denied" in out
