"""Medications coded only by an RxNorm product code are classified, and the committed table is current."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_service.clinical.medications import normalise
from cds_service.clinical.types import Origin, SourcedResource
from cds_service.rules.loader import load_knowledge_base
from tests.pipeline import CARDS_DIR, REPO, cards_of, lexicon, run
from tests.reference_data import VALUESETS

RXNORM_URI = "http://www.nlm.nih.gov/research/umls/rxnorm"
TABLE = CARDS_DIR / "valuesets" / "rxnorm-products.yaml"
GENERATOR = REPO / "scripts" / "build_product_codes.py"
KLONOPIN_0_5_SBD = "206157"  # "clonazepam 0.5 MG Oral Tablet [Klonopin]", CDC benzodiazepine set
SUBOXONE_FILM_SBD = "1010606"  # buprenorphine 8 MG / naloxone 2 MG Sublingual Film [Suboxone]
HAND_RUB_SCD = "616762"  # "ethanol 0.665 ML/ML Topical Gel": antiseptic, not alcohol intake


@cache
def table() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TABLE.read_bytes(), Loader=yaml.CSafeLoader)
    return loaded


def code_only_statement(code: str) -> dict[str, Any]:
    """A MedicationStatement as some EHRs send it: one RxNorm coding, no display, no text."""
    return {
        "resourceType": "MedicationStatement",
        "id": f"ms-{code}",
        "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM_URI, "code": code}]},
    }


def run_generator(
    output: Path, *extra: str, valuesets: Path = VALUESETS
) -> subprocess.CompletedProcess[str]:
    args = [str(GENERATOR), "--valuesets", str(valuesets), "--output", str(output), *extra]
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, cwd=REPO
    )


def generate(tmp_path: Path) -> str:
    """The table generated into tmp_path with the committed generation date."""
    output = tmp_path / "rxnorm-products.yaml"
    committed_date = str(table()["generated_on"])
    completed = run_generator(output, "--date", committed_date)
    assert completed.returncode == 0, completed.stderr
    return output.read_text(encoding="utf-8")


def test_normalise_when_only_klonopin_sbd_without_display_finds_clonazepam() -> None:
    record = SourcedResource(code_only_statement(KLONOPIN_0_5_SBD), Origin.PREFETCH, "meds")

    facts = normalise([record], lexicon(), {})

    assert [fact.ingredients for fact in facts] == [{"clonazepam"}]


def test_run_when_benzodiazepine_coded_only_by_product_code_raises_bzd_card() -> None:
    _, cards = run([code_only_statement(KLONOPIN_0_5_SBD)])
    assert len(cards_of(cards, "BZD")) == 1


def test_lookup_when_combination_product_code_gives_only_known_ingredients() -> None:
    found = lexicon().ingredients_for_code(RXNORM_URI, SUBOXONE_FILM_SBD)
    assert found == {"buprenorphine"}  # naloxone is rescue medication, not a KB member


def test_lookup_when_topical_ethanol_product_code_finds_nothing() -> None:
    assert lexicon().ingredients_for_code(RXNORM_URI, HAND_RUB_SCD) == frozenset()


def test_lookup_when_product_code_under_other_system_finds_nothing() -> None:
    assert lexicon().ingredients_for_code("http://snomed.info/sct", KLONOPIN_0_5_SBD) == set()


@pytest.mark.reference_data
def test_generator_when_run_twice_writes_the_same_bytes(tmp_path: Path) -> None:
    first = generate(tmp_path)
    assert generate(tmp_path) == first


@pytest.mark.reference_data
def test_generator_output_matches_the_committed_table(tmp_path: Path) -> None:
    generated = generate(tmp_path)
    assert generated == TABLE.read_text(encoding="utf-8"), (
        "cards/valuesets/rxnorm-products.yaml is stale: run scripts/build_product_codes.py"
    )


def test_generator_check_when_output_differs_exits_nonzero(tmp_path: Path) -> None:
    output = tmp_path / "rxnorm-products.yaml"
    output.write_text("products: {}\n", encoding="utf-8")
    valuesets = tmp_path / "valuesets"  # no expansion at all: the generated table is header-only
    valuesets.mkdir()
    completed = run_generator(output, "--check", valuesets=valuesets)
    assert completed.returncode == 1
    assert "STALE" in completed.stdout


@pytest.mark.reference_data
def test_generator_without_date_keeps_committed_date_when_nothing_changed(tmp_path: Path) -> None:
    output = tmp_path / "rxnorm-products.yaml"
    output.write_text(TABLE.read_text(encoding="utf-8"), encoding="utf-8")
    completed = run_generator(output)
    assert completed.returncode == 0, completed.stderr
    assert output.read_text(encoding="utf-8") == TABLE.read_text(encoding="utf-8")


def test_table_lists_codes_sorted_with_provenance() -> None:
    codes = [int(code) for code in table()["products"]]
    assert codes == sorted(codes)
    assert len(codes) > 2000
    assert {source["repository"] for source in table()["sources"]} == {
        "cqframework/opioid-cds-r4",
        "cqframework/ecqm-content-qicore-2024",
    }


@pytest.mark.parametrize("ingredient", ["clonazepam", "oxycodone", "lamotrigine", "memantine"])
def test_table_covers_each_class_ingredient_by_product(ingredient: str) -> None:
    assert any(ingredient in names for names in table()["products"].values())


def test_load_when_product_table_committed_indexes_every_code_of_it() -> None:
    # Its load time is part of start-up, which the benchmark measures.
    kb = load_knowledge_base(CARDS_DIR)

    assert set(kb.product_codes) == {str(code) for code in table()["products"]}
