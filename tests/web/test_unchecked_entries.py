"""Free text nothing classified: one low-key card beside the others, its text kept out of every store.

The entries appear in the card's detail only (the EHR shows its own list anyway); never in logs,
the audit store, shadow findings or the repeat filter's keys, and the card is never filtered out.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_app, make_settings
from tests.payloads import CLONAZEPAM, PATIENT_ID, hook_request, ketamine_order

SELECT = "/cds-services/ketamine-infusion-order-select"
SIGN = "/cds-services/ketamine-infusion-order-sign"
SECRET_TEXT = "Zorblax drops for Mrs Quibble"


def _free_text(stmt_id: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": stmt_id,
        "status": "active",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {"text": text},
    }


UNKNOWN = _free_text("ms-free-1", SECRET_TEXT)
MISSPELT = _free_text("ms-free-2", "Klonipin 1mg BID")


def _topics(cards: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"]) for c in cards]


def _database_text(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "data" / "cds.db") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return repr([db.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables])  # noqa: S608


def test_unrecognised_entry_gets_one_info_card_beside_the_class_card(tmp_path: Path) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM, UNKNOWN, MISSPELT))
    with TestClient(make_app(make_settings(tmp_path))) as client:
        cards = client.post(SIGN, json=body).json()["cards"]
    assert _topics(cards) == [("BZD", "warning"), ("DATAGAP", "info")]
    unchecked = cards[1]
    assert SECRET_TEXT in unchecked["detail"]
    assert "Klonipin" not in unchecked["detail"]  # read as probable clonazepam: on the BZD card
    assert "Zorblax" not in unchecked["summary"]
    assert unchecked["summary"].startswith("1 medication list entry was not recognised")
    assert "Klonipin 1mg BID (probably clonazepam)" in cards[0]["detail"]


def test_drinking_written_in_the_list_is_read_as_alcohol_not_listed_as_unchecked(
    tmp_path: Path,
) -> None:
    beers = _free_text("ms-etoh", "Alcohol - 4 to 6 beers daily")
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM, beers, UNKNOWN))
    with TestClient(make_app(make_settings(tmp_path))) as client:
        cards = client.post(SIGN, json=body).json()["cards"]
    topics = [topic for topic, _ in _topics(cards)]
    assert "CNSDEP" in topics  # the substance reader recognised it
    (unchecked,) = [c for c in cards if c["source"]["topic"]["code"] == "DATAGAP"]
    assert "beers" not in unchecked["detail"]
    assert SECRET_TEXT in unchecked["detail"]


def test_clean_coded_list_gets_no_unchecked_card(tmp_path: Path) -> None:
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    with TestClient(make_app(make_settings(tmp_path))) as client:
        cards = client.post(SIGN, json=body).json()["cards"]
    assert _topics(cards) == [("BZD", "warning")]


def test_unrecognised_text_never_reaches_logs_or_stores(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, repeat_filter="always")
    select = hook_request(ketamine_order(), hook="order-select", medications=(CLONAZEPAM, UNKNOWN))
    sign = hook_request(ketamine_order(), medications=(CLONAZEPAM, UNKNOWN))
    with caplog.at_level(logging.DEBUG), TestClient(make_app(settings)) as client:
        selected = client.post(SELECT, json=select).json()["cards"]
        signed = client.post(SIGN, json=sign).json()["cards"]
    assert _topics(selected) == [("BZD", "warning"), ("DATAGAP", "info")]
    # The BZD card is a repeat and left out; the unchecked card is never hashed, never filtered.
    assert _topics(signed) == [("DATAGAP", "info")]
    assert "Zorblax" not in caplog.text
    stored = _database_text(tmp_path)
    assert "Zorblax" not in stored
    assert "Quibble" not in stored
    with sqlite3.connect(tmp_path / "data" / "cds.db") as db:
        (keys,) = db.execute("SELECT COUNT(*) FROM announcements").fetchone()
    assert keys == 1  # the BZD card's key only


def test_unrecognised_entry_that_ended_years_ago_gets_no_card(tmp_path: Path) -> None:
    ended = {
        **_free_text("ms-free-old", SECRET_TEXT),
        "status": "completed",
        "effectivePeriod": {"start": "2015-01-01", "end": "2016-01-01"},
    }
    body = hook_request(ketamine_order(), medications=(CLONAZEPAM, ended))
    with TestClient(make_app(make_settings(tmp_path))) as client:
        cards = client.post(SIGN, json=body).json()["cards"]
    assert _topics(cards) == [("BZD", "warning")]  # outside every washout: nothing to check
