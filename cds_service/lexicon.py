"""The compiled medication lexicon: codes and names of the knowledge base, built once at start-up.

Per-request work is dictionary look-ups and a single precompiled regular expression per question.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.schema import KetamineTerms, Member

RXNORM = "rxnorm"
SNOMED = "snomed"
KetamineKind = Literal["ketamine", "esketamine"]

# A term matches only as a whole word: "ketamine" is not found inside "esketamine", nor
# "amphetamine" inside "dextroamphetamine". Only letters join words, so "Klonopin0.5mg" still counts.
_BOUNDARY_BEFORE = r"(?<![a-z])"
_BOUNDARY_AFTER = r"(?![a-z])"
_NEVER = re.compile(r"(?!x)x")
_WORD = re.compile(r"[a-z]+")


def code_system_kind(system: str) -> str:
    """ "rxnorm" / "snomed" for the usual URIs and OIDs of those systems; otherwise the system as given."""
    lowered = system.lower()
    if "rxnorm" in lowered or lowered.endswith("2.16.840.1.113883.6.88"):
        return RXNORM
    if "snomed" in lowered or lowered.endswith("2.16.840.1.113883.6.96"):
        return SNOMED
    return lowered


def _compile_terms(terms: Iterable[str]) -> re.Pattern[str]:
    """One alternation, longest term first, so the longest name wins at any position."""
    unique = sorted({term.lower().strip() for term in terms if term.strip()}, key=len, reverse=True)
    if not unique:
        return _NEVER
    escaped = (r"\s+".join(re.escape(word) for word in term.split()) for term in unique)
    return re.compile(f"{_BOUNDARY_BEFORE}(?:{'|'.join(escaped)}){_BOUNDARY_AFTER}")


def _normal_term(matched: str) -> str:
    return " ".join(matched.split())


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Every code and name the knowledge base knows, mapped to canonical ingredient names and topics."""

    codes: Mapping[tuple[str, str], frozenset[str]]  # (system kind, code) -> ingredients
    terms: Mapping[str, frozenset[str]]  # lower-case name/brand/synonym -> ingredients
    term_pattern: re.Pattern[str]
    classes: Mapping[str, tuple[str, ...]]  # ingredient -> topic codes
    members: Mapping[tuple[str, str], Member]  # (topic, ingredient) -> member
    ketamine_codes: Mapping[tuple[str, str], KetamineKind]
    ketamine_pattern: re.Pattern[str]
    esketamine_pattern: re.Pattern[str]
    infusion_terms: tuple[frozenset[str], ...]  # each term as its set of words

    @classmethod
    def from_knowledge_base(cls, kb: KnowledgeBase) -> Lexicon:
        """Compile the lexicon from every active rule's members and the manifest's ketamine terms."""
        codes: dict[tuple[str, str], set[str]] = defaultdict(set)
        terms: dict[str, set[str]] = defaultdict(set)
        classes: dict[str, list[str]] = defaultdict(list)
        members: dict[tuple[str, str], Member] = {}
        for rule in kb.active_rules:
            for member in rule.members:
                _add_member(member, codes, terms)
                if rule.id not in classes[member.name]:
                    classes[member.name].append(rule.id)
                members[(rule.id, member.name)] = member
        ketamine = kb.manifest.ketamine
        return cls(
            codes={key: frozenset(value) for key, value in codes.items()},
            terms={key: frozenset(value) for key, value in terms.items()},
            term_pattern=_compile_terms(terms),
            classes={key: tuple(value) for key, value in classes.items()},
            members=members,
            ketamine_codes=_ketamine_codes(ketamine),
            ketamine_pattern=_compile_terms(ketamine.names),
            esketamine_pattern=_compile_terms(ketamine.esketamine_names),
            infusion_terms=tuple(
                frozenset(_WORD.findall(term.lower())) for term in ketamine.infusion_service_terms
            ),
        )

    def ingredients_for_code(self, system: str, code: str) -> frozenset[str]:
        """Ingredients of an RxNorm ingredient/product code or a SNOMED CT code; empty when unknown."""
        return self.codes.get((code_system_kind(system), code.strip()), frozenset())

    def ingredients_in_text(self, text: str) -> frozenset[str]:
        """Canonical ingredient names found in free text by ingredient name, brand or synonym."""
        found: set[str] = set()
        for match in self.term_pattern.finditer(text.lower()):
            found |= self.terms.get(_normal_term(match.group()), frozenset())
        return frozenset(found)

    def classes_for(self, ingredient: str) -> tuple[str, ...]:
        """Topic codes of the active classes this ingredient belongs to."""
        return self.classes.get(ingredient, ())

    def member(self, topic: str, ingredient: str) -> Member | None:
        """The knowledge-base entry of an ingredient within one class, if it is a member."""
        return self.members.get((topic, ingredient))

    def is_ketamine_code(self, system: str, code: str) -> KetamineKind | None:
        """Whether a coding is ketamine or esketamine (ingredient, product or SNOMED CT code)."""
        return self.ketamine_codes.get((code_system_kind(system), code.strip()))

    def ketamine_in_text(self, text: str) -> KetamineKind | None:
        """Whether free text names ketamine (preferred) or esketamine, as a whole word."""
        lowered = text.lower()
        if self.ketamine_pattern.search(lowered):
            return "ketamine"
        if self.esketamine_pattern.search(lowered):
            return "esketamine"
        return None

    def names_infusion_service(self, text: str) -> bool:
        """Whether a ServiceRequest's text holds every word of an infusion term, in any order
        ("Infusion of ketamine" meets "ketamine infusion"); always true when none are configured."""
        if not self.infusion_terms:
            return True
        words = frozenset(_WORD.findall(text.lower()))
        return any(term <= words for term in self.infusion_terms)


def _add_member(
    member: Member, codes: dict[tuple[str, str], set[str]], terms: dict[str, set[str]]
) -> None:
    rxnorm_codes = ((member.rxcui,) if member.rxcui else ()) + member.product_codes
    for code in rxnorm_codes:
        codes[(RXNORM, code)].add(member.name)
    for code in member.snomed:
        codes[(SNOMED, code)].add(member.name)
    for term in (member.name, *member.brands, *member.synonyms):
        key = _normal_term(term.lower())
        if key:
            terms[key].add(member.name)


def _ketamine_codes(terms: KetamineTerms) -> dict[tuple[str, str], KetamineKind]:
    codes: dict[tuple[str, str], KetamineKind] = {}
    for code in terms.esketamine_rxcui:
        codes[(RXNORM, code)] = "esketamine"
    for code in terms.esketamine_snomed:
        codes[(SNOMED, code)] = "esketamine"
    for code in (*terms.rxcui, *terms.product_codes):
        codes[(RXNORM, code)] = "ketamine"
    for code in terms.snomed:
        codes[(SNOMED, code)] = "ketamine"
    return codes
