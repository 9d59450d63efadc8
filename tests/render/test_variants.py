"""Which wording a card takes: light for as-needed use, strong for regular use, careful when unsure."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.pipeline import cards_of, run

NOW = "2026-11-26T20:00:00+00:00"  # the evening before the 09:00 start


def _statement(stmt_id: str, text: str, *, days: int | None, prn: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": stmt_id,
        "status": "active",
        "medicationCodeableConcept": {"text": text},
        "dosage": [
            {
                "asNeededBoolean": prn,
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            }
        ],
    }
    if days is not None:
        start = datetime.fromisoformat(NOW) - timedelta(days=days)
        record["effectivePeriod"] = {"start": start.date().isoformat()}
    return record


def test_card_when_zolpidem_nightly_for_months_gets_the_do_not_stop_wording() -> None:
    _, cards = run([_statement("z", "Zolpidem 10 MG Oral Tablet", days=90)], now=NOW)
    assert cards_of(cards, "ZDRUG")[0].summary.startswith("Nightly zolpidem: review")


def test_card_when_zolpidem_started_last_week_keeps_the_default_wording() -> None:
    _, cards = run([_statement("z", "Zolpidem 10 MG Oral Tablet", days=5)], now=NOW)
    assert cards_of(cards, "ZDRUG")[0].summary.startswith("Skip zolpidem the night before")


def test_card_when_methadone_taken_for_months_says_continue_never_hold() -> None:
    _, cards = run(
        [_statement("m", "Methadone Hydrochloride 10 MG Oral Tablet", days=200)], now=NOW
    )
    assert "never hold for OUD" in cards_of(cards, "OPIOID")[0].summary


def test_card_when_benzodiazepine_scheduled_for_unknown_time_gets_careful_wording() -> None:
    _, cards = run([_statement("k", "Klonopin", days=None)], now=NOW)
    card = cards_of(cards, "BZD")[0]
    assert card.summary.startswith("Regular clonazepam may blunt ketamine: review")
    assert "abruptly" in card.summary


def test_card_when_benzodiazepine_wording_strong_preselects_no_hold() -> None:
    _, cards = run([_statement("k", "Clonazepam 1 MG Oral Tablet", days=365)], now=NOW)
    card = cards_of(cards, "BZD")[0]
    assert card.suggestions
    assert all(s.isRecommended is None for s in card.suggestions)
