"""Product-code tables in cards/valuesets/: loaded into the knowledge base, and bad ones stop start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.clinical.lexicon import RXNORM
from cds_service.errors import RuleSetInvalid
from cds_service.rules.knowledge import compile_knowledge_base
from cds_service.rules.loader import load_knowledge_base
from tests.rules.kb_files import copy_cards, set_status

HEADER = """\
system: http://www.nlm.nih.gov/research/umls/rxnorm
rxnorm_version: test fixture
generated_on: 2026-11-27
generator: tests/rules/test_product_table.py
licence: written for this test
sources:
  - {file: fixture.json, repository: example/fixture, commit: "0000000000000000000000000000000000000000", expanded: 2025-01-10, codes: 1}
"""


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    """The bundled rules with the generated table replaced by small hand-written ones."""
    target = copy_cards(tmp_path, "valuesets")
    (target / "valuesets").mkdir()
    return target


def write_table(cards: Path, products: str, name: str = "extra.yaml") -> Path:
    path = cards / "valuesets" / name
    path.write_text(HEADER + "products:\n" + products, encoding="utf-8")
    return path


def test_load_product_table_maps_codes_to_ingredients(cards: Path) -> None:
    write_table(cards, '  "900001": [clonazepam]\n  "900002": [buprenorphine]\n')

    kb = load_knowledge_base(cards)

    assert dict(kb.product_codes) == {"900001": ("clonazepam",), "900002": ("buprenorphine",)}


def test_load_when_two_tables_list_one_code_merges_ingredients(cards: Path) -> None:
    write_table(cards, '  "900001": [oxycodone]\n', "a.yaml")
    write_table(cards, '  "900001": [oxycodone]\n  "900003": [morphine]\n', "b.yaml")
    write_table(cards, '  "900001": [naltrexone]\n', "c.yaml")

    kb = load_knowledge_base(cards)

    assert kb.product_codes["900001"] == ("naltrexone", "oxycodone")


def test_load_when_table_names_unknown_ingredient_raises_naming_file_and_code(
    cards: Path,
) -> None:
    write_table(cards, '  "900001": [clonazepam]\n  "900002": [naloxone]\n')

    with pytest.raises(
        RuleSetInvalid, match=r"cards/valuesets/extra\.yaml: products\.900002: 'naloxone'"
    ):
        load_knowledge_base(cards)


def test_load_when_product_code_not_numeric_raises_naming_file(cards: Path) -> None:
    write_table(cards, '  "RX1": [clonazepam]\n')

    with pytest.raises(RuleSetInvalid, match=r"cards/valuesets/extra\.yaml: products\.RX1"):
        load_knowledge_base(cards)


def test_load_when_product_lists_no_ingredient_raises(cards: Path) -> None:
    write_table(cards, '  "900001": []\n')

    with pytest.raises(RuleSetInvalid, match=r"extra\.yaml: .*900001: lists no ingredient"):
        load_knowledge_base(cards)


def test_load_when_table_has_unknown_field_raises(cards: Path) -> None:
    path = write_table(cards, '  "900001": [clonazepam]\n')
    path.write_text(path.read_text("utf-8") + "comment: stray\n", encoding="utf-8")

    with pytest.raises(RuleSetInvalid, match=r"extra\.yaml: comment: Extra inputs"):
        load_knowledge_base(cards)


def test_load_when_table_changes_changes_digest(cards: Path) -> None:
    path = write_table(cards, '  "900001": [clonazepam]\n')
    before = load_knowledge_base(cards).digest
    path.write_text(path.read_text("utf-8").replace("900001", "900002"), encoding="utf-8")

    assert load_knowledge_base(cards).digest != before


def test_load_without_product_tables_ignores_them(cards: Path) -> None:
    write_table(cards, '  "900001": [naloxone]\n')  # invalid, but not read

    kb = load_knowledge_base(cards, product_tables=False)

    assert dict(kb.product_codes) == {}


def test_lexicon_when_product_ingredient_class_is_draft_skips_it(cards: Path) -> None:
    write_table(cards, '  "900001": [memantine]\n  "900002": [memantine, oxycodone]\n')
    set_status(cards, "NMDA", "draft")

    lexicon = compile_knowledge_base(load_knowledge_base(cards)).lexicon

    assert lexicon.ingredients_for_code(RXNORM, "900001") == frozenset()
    assert lexicon.ingredients_for_code(RXNORM, "900002") == {"oxycodone"}
