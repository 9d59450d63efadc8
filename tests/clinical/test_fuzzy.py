"""The fuzzy matcher: one edit from a known name of six letters or more, guarded, never ambiguous."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cds_service.clinical.fuzzy import FuzzyIndex, _table_distance, allowed_edits, distance
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


@st.composite
def _near_pairs(draw: st.DrawFn) -> tuple[str, str]:
    # A word and the same word after up to two random edits: near misses, where the one-pass path
    # must tell one edit from two, are what independent random strings would rarely give.
    a = draw(st.text(alphabet="abc", max_size=7))
    b = a
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(b)))
        letter = draw(st.sampled_from("abc"))
        edit = draw(st.sampled_from(["add", "drop", "change", "swap"]))
        if edit == "add":
            b = b[:at] + letter + b[at:]
        elif edit == "drop" and at < len(b):
            b = b[:at] + b[at + 1 :]
        elif edit == "change" and at < len(b):
            b = b[:at] + letter + b[at + 1 :]
        elif edit == "swap" and at + 1 < len(b):
            b = b[:at] + b[at + 1] + b[at] + b[at + 2 :]
    return a, b


_ANY_PAIRS = st.tuples(st.text(alphabet="abc", max_size=7), st.text(alphabet="abc", max_size=7))


@settings(max_examples=800, deadline=None)
@given(pair=st.one_of(_near_pairs(), _ANY_PAIRS))
@example(pair=("ab", "ba"))
@example(pair=("ab", "ca"))
@example(pair=("abc", "ab"))
@example(pair=("abcd", "badc"))
@example(pair=("", "a"))
def test_distance_in_one_pass_agrees_with_the_full_table(pair: tuple[str, str]) -> None:
    # Limits 0 and 1 take the one-pass path; the table is the definition (optimal string alignment).
    # At 2 and above `distance` is the table itself, so comparing there could not fail.
    a, b = pair
    for limit in (0, 1):
        assert distance(a, b, limit) == _table_distance(a, b, limit), limit
        assert distance(a, b, limit) == distance(b, a, limit), limit


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
