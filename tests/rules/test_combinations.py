"""Combinations: drugs riskier together (benzodiazepine + opioid...) raise every class card involved."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cds_service.errors import RuleSetInvalid
from cds_service.rules.loader import load_knowledge_base
from cds_service.rules.overrides import RuleOverride
from tests.pipeline import CARDS_DIR, cards_of, run

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _statement(stmt_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": stmt_id,
        "status": "active",
        "medicationCodeableConcept": {"text": text},
        **extra,
    }


PRN_LORAZEPAM = _statement(
    "lzp",
    "Lorazepam 0.5 MG Oral Tablet",
    dosage=[
        {
            "asNeededBoolean": True,
            "maxDosePerPeriod": {
                "numerator": {"value": 0.5, "unit": "mg"},
                "denominator": {"value": 1, "unit": "d", "code": "d"},
            },
        }
    ],
)
OXYCODONE = _statement("oxy", "Oxycodone Hydrochloride 5 MG Oral Tablet")


def test_bzd_card_when_as_needed_low_dose_alone_is_info() -> None:
    _, cards = run([PRN_LORAZEPAM])
    assert [card.indicator for card in cards_of(cards, "BZD")] == ["info"]


def test_combination_when_bzd_with_opioid_raises_bzd_card_naming_both() -> None:
    _, cards = run([PRN_LORAZEPAM, OXYCODONE])
    bzd = cards_of(cards, "BZD")[0]
    assert bzd.indicator == "warning"
    assert bzd.detail is not None
    assert "(lorazepam with oxycodone)" in bzd.detail
    assert "SpO2" in bzd.detail
    opioid = cards_of(cards, "OPIOID")[0]
    assert opioid.detail is not None
    assert "Combined respiratory depression" in opioid.detail


def test_combination_when_another_class_fires_leaves_its_card_unchanged() -> None:
    records = [
        _statement("lt4", "Levothyroxine Sodium 0.1 MG Oral Tablet"),
        PRN_LORAZEPAM,
        OXYCODONE,
    ]
    _, cards = run(records)
    thyroid = cards_of(cards, "THYROID")[0]
    assert thyroid.indicator == "info"
    assert thyroid.detail is not None
    assert "Combined respiratory depression" not in thyroid.detail


def test_combination_when_site_disables_its_id_no_longer_applies() -> None:
    overrides = {"RESPDEP": RuleOverride(enabled=False)}
    _, cards = run([PRN_LORAZEPAM, OXYCODONE], overrides=overrides)
    assert cards_of(cards, "BZD")[0].indicator == "info"


def test_load_when_combination_names_an_unknown_ingredient_raises(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    shutil.copytree(CARDS_DIR, cards)
    manifest = cards / "knowledge-base.yaml"
    manifest.write_text(manifest.read_text().replace("[gabapentin, pregabalin]", "[gabapentine]"))
    with pytest.raises(
        RuleSetInvalid, match=r"knowledge-base.yaml: combinations\[0\]\.groups.*gabapentine"
    ):
        load_knowledge_base(cards)
