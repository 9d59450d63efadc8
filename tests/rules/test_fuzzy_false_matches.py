"""The fuzzy matcher never turns one real drug into another: measured on the reference drug names.

Every RxNorm display of ../shared/reference/valuesets is a correctly spelt real product, so a
probable match on one must name an ingredient the product holds. PharmGKB's drugs.tsv beside them
(generic names, synonyms, brands of 3,493 drugs) is the harder set; its few known misreadings are
listed (aminophylline's names read as its own theophylline, two synonyms filed under another drug).
Skipped without ../shared (tests/reference_data.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cds_service import cli
from cds_service.rules.fuzzy_check import measure, measure_drugs, pharmgkb_drugs, reference_products
from tests.pipeline import lexicon
from tests.reference_data import VALUESETS

# Known: aminophylline is theophylline with ethylenediamine (same class, same moiety); PharmGKB
# files "Butabarbitol" under butethal and "Gababentin" under disulfiram.
KNOWN_PHARMGKB = {"theophyldine", "theophyline", "theophyllin", "butabarbitol", "gababentin"}


@pytest.mark.reference_data
def test_fuzzy_matcher_on_rxnorm_displays_reads_no_drug_as_another() -> None:
    report = measure(lexicon(), reference_products(VALUESETS))
    assert report.displays > 3000
    assert report.false == (), report.lines()


@pytest.mark.reference_data
def test_fuzzy_matcher_on_pharmgkb_names_misreads_only_the_known_few() -> None:
    report = measure_drugs(lexicon(), pharmgkb_drugs(VALUESETS / "drugs.tsv"))
    assert report.displays > 20000
    assert report.probable > 100  # it does recognise synonyms and misspellings
    assert {f.written for f in report.false} <= KNOWN_PHARMGKB, report.lines()
    assert report.false_rate < 0.0005


@pytest.mark.reference_data
def test_kb_fuzzy_prints_the_rates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The command's output on one real value set and a few PharmGKB rows (the full sets are measured
    # by the tests above; running them twice would only double the time).
    shutil.copy(VALUESETS / "benzodiazepine-medications.json", tmp_path)
    rows = (VALUESETS / "drugs.tsv").read_text("utf-8").splitlines()
    (tmp_path / "drugs.tsv").write_text("\n".join(rows[:200]) + "\n", "utf-8")
    assert cli.main(["kb", "fuzzy", "--reference", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("RxNorm display names: ")
    assert out[0].endswith("; 0 false (0.0000%).")
    assert any(line.startswith("PharmGKB drug names: ") for line in out)


def test_kb_fuzzy_without_reference_folder_exits_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["kb", "fuzzy", "--reference", str(tmp_path / "absent")]) == 1
    assert "no reference value sets" in capsys.readouterr().err


def test_measure_counts_a_misspelt_display_as_false_only_when_it_names_another_drug() -> None:
    report = measure(
        lexicon(),
        [("1", "Klonipin 1 MG"), ("2", "clonazepam / Klonipin"), ("2", "clonazepam / Klonipin")],
    )
    assert (report.displays, report.probable) == (2, 2)
    assert [(f.written, f.read_as) for f in report.false] == [("klonipin", "clonazepam")]
