"""The fuzzy matcher: one edit from a known name of six letters or more, guarded, never ambiguous."""

from __future__ import annotations

import pytest

from cds_service.clinical.fuzzy import FuzzyIndex, allowed_edits, distance
from tests.pipeline import lexicon

CLONAZEPAM = frozenset({"clonazepam"})


def _index(*names: tuple[str, str]) -> FuzzyIndex:
    return FuzzyIndex.build((name, frozenset({value})) for name, value in names)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("klonipin", "klonopin", 1),  # substitution
        ("valiun", "valium", 1),
        ("klonopni", "klonopin", 1),  # adjacent transposition counts one
        ("klnopin", "klonopin", 1),  # deletion
        ("klonopinn", "klonopin", 1),  # insertion
        ("kolnpoin", "klonopin", 2),  # capped at limit + 1
    ],
)
def test_distance_counts_damerau_edits_capped_at_limit(a: str, b: str, expected: int) -> None:
    assert distance(a, b, 1) == expected


def test_allowed_edits_when_under_six_letters_is_zero() -> None:
    assert [allowed_edits(word) for word in ("xanax", "valium", "klonopin")] == [0, 1, 1]


@pytest.mark.parametrize(
    ("word", "ingredient"),
    [("klonipin", "clonazepam"), ("valiun", "diazepam"), ("lamictol", "lamotrigine")],
)
def test_match_word_when_one_edit_from_a_known_name_is_probable(word: str, ingredient: str) -> None:
    match = lexicon().fuzzy.match_word(word)
    assert match is not None
    assert match.ingredients == frozenset({ingredient})
    assert (match.written, match.edits) == (word, 1)


@pytest.mark.parametrize(
    "word",
    [
        "xanex",  # five letters: exact only
        "lithium",  # a real drug the knowledge base does not list
        "dolantin",  # pethidine, one letter from Dilantin
        "tablet",  # a common word of dosage texts
        "regimen",  # "Bowel regimen": one letter from Regimex (benzphetamine)
        "ambient",  # "store at ambient temperature": one letter from Ambien
        "decade",  # "for a decade": one letter from Depade (naltrexone)
        "metadata",  # one letter from Metadate (methylphenidate)
        "clonazepam",  # already an exact name: never a fuzzy match
        "glonopin",  # the first letter must agree
    ],
)
def test_match_word_when_guarded_or_exact_is_none(word: str) -> None:
    assert lexicon().fuzzy.match_word(word) is None


def test_match_word_when_equally_close_to_two_drugs_is_none() -> None:
    index = _index(("seranol", "one"), ("seranil", "two"))
    assert index.match_word("seranel") is None


def test_match_word_when_two_names_of_one_drug_are_close_keeps_the_drug() -> None:
    index = _index(("seranol", "one"), ("seranil", "one"))
    match = index.match_word("seranel")
    assert match is not None
    assert match.ingredients == frozenset({"one"})


def test_match_word_when_two_edits_away_is_none() -> None:
    assert _index(("klonopin", "clonazepam")).match_word("klinipin") is None


def test_probable_in_text_finds_only_the_misspelt_words() -> None:
    matches = lexicon().probable_in_text("Klonipin 1mg BID at bedtime")
    assert [(m.written, m.ingredients) for m in matches] == [("klonipin", CLONAZEPAM)]
    assert lexicon().probable_in_text("Klonipin 1mg BID at bedtime") is matches  # memoised
