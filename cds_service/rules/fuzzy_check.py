"""The fuzzy matcher's false-match rate on real product names (``cds-service kb fuzzy DIR``).

Every display of the RxNorm value sets is a correctly spelt real product, so any probable match on
one is a guess the matcher should not have made; it is *false* when it names an ingredient the
product does not hold (its code and its exact words are the truth). A display whose words already
name a member exactly is not a fuzzy match.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cds_service.clinical.lexicon import RXNORM, Lexicon

RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@dataclass(frozen=True, slots=True)
class FalseMatch:
    """One real product the matcher read as a different drug."""

    display: str
    written: str
    read_as: str


@dataclass(frozen=True, slots=True)
class FuzzyReport:
    """How many names were checked, how many the matcher touched, and the false ones."""

    label: str  # what the names are ("RxNorm display names")
    displays: int
    probable: int  # displays with any probable match (same drug or not)
    false: tuple[FalseMatch, ...]

    @property
    def false_rate(self) -> float:
        return len(self.false) / self.displays if self.displays else 0.0

    def lines(self) -> list[str]:
        """The report as a person reads it."""
        head = (
            f"{self.label}: {self.displays} checked; {self.probable} had a probable match;"
            f" {len(self.false)} false ({self.false_rate:.4%})."
        )
        return [head, *(f"  {f.display!r}: {f.written!r} read as {f.read_as}" for f in self.false)]


def default_reference_dir() -> Path:
    """``../shared/reference/valuesets`` beside a repository checkout (never inside the repo)."""
    return Path(__file__).resolve().parents[3] / "shared" / "reference" / "valuesets"


def fuzzy_command(cards_dir: Path, reference: Path) -> int:
    """Print the false-match rates on the value sets (and drugs.tsv when present); 1 if data absent."""
    from cds_service.rules.knowledge import compile_knowledge_base
    from cds_service.rules.loader import load_knowledge_base

    if not reference.is_dir():
        print(f"error: no reference value sets at {reference}", file=sys.stderr)
        return 1
    lexicon = compile_knowledge_base(load_knowledge_base(cards_dir)).lexicon
    reports = [measure(lexicon, reference_products(reference))]
    if (reference / "drugs.tsv").is_file():
        reports.append(measure_drugs(lexicon, pharmgkb_drugs(reference / "drugs.tsv")))
    for report in reports:
        print("\n".join(report.lines()))
    return 0


def measure(lexicon: Lexicon, products: Iterable[tuple[str, str]]) -> FuzzyReport:
    """Run every (RxNorm code, display) through the matcher; count the ones it turns into another drug."""
    seen: set[tuple[str, str]] = set()
    probable = 0
    false: list[FalseMatch] = []
    for code, display in products:
        if (code, display) in seen:
            continue
        seen.add((code, display))
        matches = lexicon.probable_in_text(display)
        if not matches:
            continue
        probable += 1
        truth = lexicon.codes.get((RXNORM, code), frozenset()) | lexicon.ingredients_in_text(
            display
        )
        false += [
            FalseMatch(display, m.written, ", ".join(sorted(m.ingredients)))
            for m in matches
            if not m.ingredients <= truth
        ]
    return FuzzyReport("RxNorm display names", len(seen), probable, tuple(false))


def measure_drugs(lexicon: Lexicon, drugs: Iterable[tuple[str, ...]]) -> FuzzyReport:
    """As ``measure`` for a drug dictionary: each entry is one drug's names (generic, synonyms,
    brands); the truth is what those names say exactly, so a synonym read as its own drug is right."""
    names = probable = 0
    false: list[FalseMatch] = []
    for entry in drugs:
        truth = frozenset().union(*(lexicon.ingredients_in_text(name) for name in entry))
        for name in entry:
            names += 1
            matches = lexicon.probable_in_text(name)
            probable += bool(matches)
            false += [
                FalseMatch(name, m.written, ", ".join(sorted(m.ingredients)))
                for m in matches
                if not m.ingredients <= truth
            ]
    return FuzzyReport("PharmGKB drug names", names, probable, tuple(false))


def pharmgkb_drugs(path: Path) -> Iterator[tuple[str, ...]]:
    """Each drug's names from PharmGKB's drugs.tsv (Name, Generic Names, Trade Names)."""
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            cells = (row.get(column) or "" for column in ("Name", "Generic Names", "Trade Names"))
            names = (name.strip().strip('"') for cell in cells for name in cell.split(","))
            yield tuple(name for name in names if name)


def reference_products(folder: Path) -> Iterator[tuple[str, str]]:
    """(code, display) of every RxNorm entry of the FHIR ValueSet files in ``folder``."""
    for path in sorted(folder.glob("*.json")):
        try:
            document = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        yield from _entries(document)


def _entries(document: object) -> Iterator[tuple[str, str]]:
    if not isinstance(document, dict):
        return
    expansion = document.get("expansion")
    contains = expansion.get("contains") if isinstance(expansion, dict) else None
    for entry in contains if isinstance(contains, list) else ():
        if not isinstance(entry, dict) or entry.get("system") != RXNORM_SYSTEM:
            continue
        code, display = entry.get("code"), entry.get("display")
        if isinstance(code, str) and isinstance(display, str):
            yield code, display
