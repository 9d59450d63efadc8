"""The compiled medication lexicon: codes and names of the knowledge base, built once at start-up.

Per-request work is one precompiled tokeniser pass over a text and dictionary look-ups per word
(a 450-name alternation regex cost about 18 us per text; the word look-up about 2 us).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from cds_service.clinical.fuzzy import FuzzyIndex, ProbableMatch

RXNORM = "rxnorm"
SNOMED = "snomed"
KetamineKind = Literal["ketamine", "esketamine"]
_V = TypeVar("_V")

# Texts and terms are compared as runs of letters, so a term matches only whole words: "ketamine"
# is not found inside "esketamine", nor "amphetamine" inside "dextroamphetamine"; "Klonopin0.5mg"
# still names clonazepam. At each word the longest term wins ("lamictal xr" before "lamictal").
_WORD = re.compile(r"[a-z]+")
_SYSTEM_KINDS = {
    "http://www.nlm.nih.gov/research/umls/rxnorm": RXNORM,
    "http://snomed.info/sct": SNOMED,
}


def code_system_kind(system: str) -> str:
    """The kind of a code system: rxnorm or snomed for their usual URIs and OIDs, else the system."""
    known = _SYSTEM_KINDS.get(system)
    if known is not None:
        return known
    lowered = system.lower()
    if "rxnorm" in lowered or lowered.endswith("2.16.840.1.113883.6.88"):
        return RXNORM
    if "snomed" in lowered or lowered.endswith("2.16.840.1.113883.6.96"):
        return SNOMED
    return lowered


def words_of(text: str) -> tuple[str, ...]:
    """The lower-case letter runs of a text: the unit every name is matched in."""
    return tuple(_WORD.findall(text.lower()))


@dataclass(frozen=True, slots=True)
class TermTable(Generic[_V]):
    """Names (as word tuples) -> value, searched longest-first at each word of a text."""

    single: Mapping[str, _V]
    multi: Mapping[tuple[str, ...], _V]
    multi_first: frozenset[str]  # first words of multi-word names: only these try longer matches
    longest: int
    starts: frozenset[str]  # every word a name can begin with

    @classmethod
    def build(
        cls, entries: Iterable[tuple[str, _V]], merge: Callable[[_V, _V], _V]
    ) -> TermTable[_V]:
        """Compile (name, value) pairs; a name listed twice keeps ``merge`` of its values."""
        table: dict[tuple[str, ...], _V] = {}
        for name, value in entries:
            key = words_of(name)
            if key:
                table[key] = merge(table[key], value) if key in table else value
        multi = {key: value for key, value in table.items() if len(key) > 1}
        return cls(
            single={key[0]: value for key, value in table.items() if len(key) == 1},
            multi=multi,
            multi_first=frozenset(key[0] for key in multi),
            longest=max((len(key) for key in table), default=0),
            starts=frozenset(key[0] for key in table),
        )

    def find(self, words: tuple[str, ...]) -> Iterator[_V]:
        """The value of each name found, scanning left to right with longest-match semantics."""
        if self.starts.isdisjoint(words):  # most texts name nothing the table knows: one set test
            return
        index, count = 0, len(words)
        while index < count:
            step = self._match_at(words, index)
            if step is None:
                index += 1
                continue
            size, value = step
            yield value
            index += size

    def _match_at(self, words: tuple[str, ...], index: int) -> tuple[int, _V] | None:
        if words[index] in self.multi_first:
            for size in range(min(self.longest, len(words) - index), 1, -1):
                value = self.multi.get(words[index : index + size])
                if value is not None:
                    return size, value
        single = self.single.get(words[index])
        return (1, single) if single is not None else None


_NONE: frozenset[str] = frozenset()
# Drug names recur across patients (a clinic's lists repeat the same few hundred products), so text
# look-ups are memoised: a pure function of the text, bounded, in process memory only, never logged
# or persisted; cleared whole when full (cheaper than LRU bookkeeping per call).
TEXT_MEMO_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class MemberTerms:
    """The codes and names of one ingredient in one class, as the knowledge base lists them."""

    topic: str
    ingredient: str  # canonical lower-case name ("clonazepam")
    rxnorm: tuple[str, ...] = ()  # ingredient and product codes
    snomed: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # the ingredient name, brands and synonyms
    depot_words: tuple[str, ...] = ()  # names that make a record the long-acting injectable
    depot_days: int | None = None  # how long one injection acts


@dataclass(frozen=True, slots=True)
class KetamineVocabulary:
    """How a draft order or service is recognised as ketamine (or esketamine)."""

    rxnorm: tuple[str, ...]
    snomed: tuple[str, ...]
    names: tuple[str, ...]
    esketamine_rxnorm: tuple[str, ...] = ()
    esketamine_snomed: tuple[str, ...] = ()
    esketamine_names: tuple[str, ...] = ()
    infusion_terms: tuple[str, ...] = ()  # words that make a ServiceRequest a ketamine infusion


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Every code and name the knowledge base knows, mapped to canonical ingredient names and topics."""

    codes: Mapping[tuple[str, str], frozenset[str]]  # (system kind, code) -> ingredients
    terms: TermTable[frozenset[str]]  # ingredient names, brands, synonyms -> ingredients
    classes: Mapping[str, tuple[str, ...]]  # ingredient -> topic codes
    ketamine_codes: Mapping[tuple[str, str], KetamineKind]
    ketamine_terms: TermTable[KetamineKind]
    infusion_terms: tuple[frozenset[str], ...]  # each term as its set of words
    # ingredient -> (the word runs that name its long-acting injectable, how many days one acts)
    depots: Mapping[str, tuple[tuple[tuple[str, ...], ...], int]] = field(default_factory=dict)
    # Misspelt single-word names ("Klonipin"), tried only for free text nothing else recognised.
    fuzzy: FuzzyIndex = field(default_factory=lambda: FuzzyIndex.build(()))
    _text_memo: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)
    _probable_memo: dict[str, tuple[ProbableMatch, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _ketamine_memo: dict[str, KetamineKind | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(
        cls,
        members: Iterable[MemberTerms],
        ketamine: KetamineVocabulary,
        product_codes: Mapping[str, tuple[str, ...]] | None = None,
    ) -> Lexicon:
        """Compile the look-up tables (start-up only). ``product_codes`` maps RxNorm product codes
        (SCD/SBD/GPCK/BPCK) to ingredient names; only ingredients of ``members`` are indexed."""
        codes: dict[tuple[str, str], set[str]] = defaultdict(set)
        terms: list[tuple[str, frozenset[str]]] = []
        classes: dict[str, list[str]] = defaultdict(list)
        depots: dict[str, tuple[tuple[tuple[str, ...], ...], int]] = {}
        for member in members:
            _add_member(member, codes, terms)
            if member.depot_days and member.depot_words:
                words = tuple(words_of(word) for word in member.depot_words)
                depots[member.ingredient] = (words, member.depot_days)
            if member.topic not in classes[member.ingredient]:
                classes[member.ingredient].append(member.topic)
        for code, names in (product_codes or {}).items():
            known = [name for name in names if name in classes]
            if known:
                codes[(RXNORM, code)].update(known)
        return cls(
            codes={key: frozenset(value) for key, value in codes.items()},
            terms=TermTable.build(terms, frozenset.union),
            classes={key: tuple(value) for key, value in classes.items()},
            ketamine_codes=_ketamine_codes(ketamine),
            ketamine_terms=_ketamine_terms(ketamine),
            infusion_terms=tuple(frozenset(words_of(term)) for term in ketamine.infusion_terms),
            depots=depots,
            fuzzy=FuzzyIndex.build(_single_words(terms)),
        )

    def ingredients_for_code(self, system: str, code: str) -> frozenset[str]:
        """Ingredients of an RxNorm ingredient/product code or a SNOMED CT code; empty when unknown."""
        return self.codes.get((code_system_kind(system), code.strip()), frozenset())

    def ingredients_in_text(self, text: str) -> frozenset[str]:
        """Canonical ingredient names found in free text by ingredient name, brand or synonym."""
        memo = self._text_memo
        known = memo.get(text)
        if known is not None:
            return known
        found = tuple(self.terms.find(words_of(text)))
        result = frozenset().union(*found) if len(found) > 1 else (found[0] if found else _NONE)
        if len(memo) >= TEXT_MEMO_SIZE:
            memo.clear()
        memo[text] = result
        return result

    def probable_in_text(self, text: str) -> tuple[ProbableMatch, ...]:
        """Words of a free text that probably misspell a known name (``clinical.fuzzy``); memoised
        as ``ingredients_in_text`` is."""
        memo = self._probable_memo
        known = memo.get(text)
        if known is None:
            known = self.fuzzy.match_words(words_of(text))
            if len(memo) >= TEXT_MEMO_SIZE:
                memo.clear()
            memo[text] = known
        return known

    def depot_days(self, ingredients: frozenset[str], texts: Iterable[str]) -> int | None:
        """How long one injection acts, when the texts name an ingredient's long-acting form."""
        wanted = [self.depots[name] for name in ingredients if name in self.depots]
        if not wanted:
            return None
        words = [words_of(text) for text in texts]
        for runs, days in wanted:
            if any(_contains(text, run) for text in words for run in runs):
                return days
        return None

    def classes_for(self, ingredient: str) -> tuple[str, ...]:
        """Topic codes of the classes this ingredient belongs to (the compiled active and shadow
        classes), in rule order."""
        return self.classes.get(ingredient, ())

    def is_ketamine_code(self, system: str, code: str) -> KetamineKind | None:
        """Whether a coding is ketamine or esketamine (ingredient, product or SNOMED CT code)."""
        return self.ketamine_codes.get((code_system_kind(system), code.strip()))

    def ketamine_in_text(self, text: str) -> KetamineKind | None:
        """Whether free text names ketamine (preferred) or esketamine, as a whole word; memoised
        as ``ingredients_in_text`` is (a clinic's ketamine orders repeat a few order-set texts)."""
        memo = self._ketamine_memo
        if text in memo:
            return memo[text]
        kinds = set(self.ketamine_terms.find(words_of(text)))
        kind: KetamineKind | None = None
        if "ketamine" in kinds:
            kind = "ketamine"
        elif kinds:
            kind = "esketamine"
        if len(memo) >= TEXT_MEMO_SIZE:
            memo.clear()
        memo[text] = kind
        return kind

    def names_infusion_service(self, text: str) -> bool:
        """Whether a ServiceRequest's text holds every word of an infusion term, in any order
        ("Infusion of ketamine" meets "ketamine infusion"); always true when none are configured."""
        if not self.infusion_terms:
            return True
        words = frozenset(words_of(text))
        return any(term <= words for term in self.infusion_terms)


def _single_words(
    terms: Iterable[tuple[str, frozenset[str]]],
) -> Iterator[tuple[str, frozenset[str]]]:
    for term, ingredients in terms:
        words = words_of(term)
        if len(words) == 1:
            yield words[0], ingredients


def _contains(words: tuple[str, ...], run: tuple[str, ...]) -> bool:
    size = len(run)
    return any(words[i : i + size] == run for i in range(len(words) - size + 1))


def _add_member(
    member: MemberTerms,
    codes: dict[tuple[str, str], set[str]],
    terms: list[tuple[str, frozenset[str]]],
) -> None:
    for code in member.rxnorm:
        codes[(RXNORM, code)].add(member.ingredient)
    for code in member.snomed:
        codes[(SNOMED, code)].add(member.ingredient)
    ingredient = frozenset((member.ingredient,))
    terms.extend((term, ingredient) for term in (member.ingredient, *member.names))


def _ketamine_terms(terms: KetamineVocabulary) -> TermTable[KetamineKind]:
    def prefer_ketamine(old: KetamineKind, new: KetamineKind) -> KetamineKind:
        return "ketamine" if "ketamine" in (old, new) else "esketamine"

    names: list[tuple[str, KetamineKind]] = [(name, "ketamine") for name in terms.names]
    names += [(name, "esketamine") for name in terms.esketamine_names]
    return TermTable.build(names, prefer_ketamine)


def _ketamine_codes(terms: KetamineVocabulary) -> dict[tuple[str, str], KetamineKind]:
    codes: dict[tuple[str, str], KetamineKind] = {}
    for code in terms.esketamine_rxnorm:
        codes[(RXNORM, code)] = "esketamine"
    for code in terms.esketamine_snomed:
        codes[(SNOMED, code)] = "esketamine"
    for code in terms.rxnorm:
        codes[(RXNORM, code)] = "ketamine"
    for code in terms.snomed:
        codes[(SNOMED, code)] = "ketamine"
    return codes
