"""Probable matches for misspelt drug names ("Klonipin"): a fallback, built once with the lexicon.

Only for free-text words nothing else recognised. A word matches a known generic or brand of at
least six letters when it is one edit away (Damerau-Levenshtein: a letter added, dropped or changed,
or two adjacent letters swapped) and no other drug's name is as close.
Safety guards, measured (``cds-service kb fuzzy``) on the RxNorm display names of the reference
value sets and PharmGKB's drug names beside them: the first letter must agree, words under six
letters never match, and common words and real drugs one edit from a member (``NOT_MISSPELLINGS``,
found by that measurement) are never read as a misspelling of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MIN_LETTERS = 6
# Real products and ordinary words one edit from a member's name: never read as a misspelling of it.
# The products are those the measurement found (PharmGKB's 29,849 drug names, one edit each:
# Dolantin is pethidine, not Dilantin; Ultracef is cefadroxil, not Ultracet). Lower case.
NOT_MISSPELLINGS = frozenset(
    {"lithium", "methasone", "methanone", "deserol", "deverol", "diurex", "dolantin", "epilol"}
    | {"koletra", "procethazine", "sedonal", "ultracef", "vasodyl", "versel", "vicomin"}
    | {"luminol", "cytome", "tablet", "tablets", "capsule", "daily", "nightly"}
    | {"morning", "evening", "bedtime", "needed", "release", "extended", "delayed", "patches"}
    # Words of medication-list free text one edit from a brand ("Bowel regimen" is not Regimex,
    # "ambient temperature" not Ambien, "for a decade" not Depade, "metadata" not Metadate).
    | {"regimen", "regimens", "regime", "ambient", "decade", "decades", "metadata", "herein"}
)


@dataclass(frozen=True, slots=True)
class ProbableMatch:
    """A free-text word read as a known name: what was written, the name it is close to, its value."""

    written: str
    name: str
    ingredients: frozenset[str]
    edits: int


def allowed_edits(name: str) -> int:
    """Edits allowed between a word and a name (the shorter of the two): none under six letters,
    else one. Measured on PharmGKB's drug names: two edits from eight letters found 253 synonyms
    but read 142 names as another drug; one edit, 146 and 23 (before the guard list)."""
    return 0 if len(name) < MIN_LETTERS else 1


@dataclass(frozen=True, slots=True)
class FuzzyIndex:
    """Known single-word names of six letters or more, bucketed by first letter."""

    by_initial: Mapping[str, tuple[tuple[str, frozenset[str]], ...]]
    exact: frozenset[str]  # every known single word: never fuzzed, it already matched

    @classmethod
    def build(cls, names: Iterable[tuple[str, frozenset[str]]]) -> FuzzyIndex:
        """Index (single-word name, ingredients) pairs; shorter names stay exact-only."""
        merged: dict[str, frozenset[str]] = {}
        for name, ingredients in names:
            merged[name] = merged.get(name, frozenset()) | ingredients
        buckets: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
        for name, ingredients in sorted(merged.items()):
            if len(name) >= MIN_LETTERS:
                buckets[name[0]].append((name, ingredients))
        return cls(
            by_initial={key: tuple(value) for key, value in buckets.items()},
            exact=frozenset(merged),
        )

    def match_word(self, word: str) -> ProbableMatch | None:
        """The one known name this word probably misspells; None when none or several are as close."""
        if len(word) < MIN_LETTERS or word in self.exact or word in NOT_MISSPELLINGS:
            return None
        best: list[tuple[int, str, frozenset[str]]] = []
        for name, ingredients in self.by_initial.get(word[0], ()):
            limit = allowed_edits(name if len(name) < len(word) else word)
            if abs(len(name) - len(word)) > limit:
                continue
            edits = distance(word, name, limit)
            if edits <= limit:
                best.append((edits, name, ingredients))
        if not best:
            return None
        fewest = min(edits for edits, _, _ in best)
        closest = {(name, ingredients) for edits, name, ingredients in best if edits == fewest}
        if len({ingredients for _, ingredients in closest}) != 1:
            return None  # equally close to two different drugs: not a guess we make
        name, ingredients = min(closest)
        return ProbableMatch(word, name, ingredients, fewest)

    def match_words(self, words: Iterable[str]) -> tuple[ProbableMatch, ...]:
        """The probable matches among a text's words, in order."""
        found = (self.match_word(word) for word in words)
        return tuple(match for match in found if match is not None)


def distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment); ``limit + 1`` once it exceeds ``limit``."""
    if limit <= 1:  # every limit ``allowed_edits`` gives: one pass, no table
        return _within_one(a, b, limit)
    return _table_distance(a, b, limit)


def _within_one(a: str, b: str, limit: int) -> int:
    # Past the common prefix and suffix, one edit leaves at most one letter on either side, or two
    # swapped letters on both; anything more is two edits or more.
    if a == b:
        return 0
    if limit <= 0 or abs(len(a) - len(b)) > 1:
        return limit + 1
    shorter = min(len(a), len(b))
    start = 0
    while start < shorter and a[start] == b[start]:
        start += 1
    end = 0
    while end < shorter - start and a[-1 - end] == b[-1 - end]:
        end += 1
    rest_a, rest_b = len(a) - start - end, len(b) - start - end
    if max(rest_a, rest_b) <= 1:
        return 1
    if rest_a == rest_b == 2 and a[start] == b[start + 1] and a[start + 1] == b[start]:
        return 1
    return limit + 1


def _table_distance(a: str, b: str, limit: int) -> int:
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[len(b)], limit + 1)
