"""Free-text medication entries: which records are free text, and their probable (misspelt) names.

A record is free text when none of its codings carries an RxNorm, SNOMED CT or NDC code: a coded
record the lexicon does not know is a real drug that simply does not interact, never "unrecognised".
"""

from __future__ import annotations

from collections.abc import Iterable

from cds_service.clinical.fhirjson import concept_texts
from cds_service.clinical.fuzzy import ProbableMatch
from cds_service.clinical.lexicon import RXNORM, SNOMED, Lexicon, code_system_kind
from cds_service.clinical.types import JsonObject

# NDC: a national product code (Oracle Health and pharmacy feeds send it alone): a real product,
# its name read by the lexicon like any coded display; never "could not be checked".
_NDC = frozenset({"http://hl7.org/fhir/sid/ndc", "urn:oid:2.16.840.1.113883.6.69"})
_CODED = frozenset({RXNORM, SNOMED, *_NDC})


def is_free_text(concepts: Iterable[JsonObject]) -> bool:
    """Whether no coding of these concepts has an RxNorm, SNOMED CT or NDC code."""
    # Runs once per record on every call: the loop is inlined (same reading as ``codings``).
    for concept in concepts:
        found = concept.get("coding") if isinstance(concept, dict) else None
        for coding in found if isinstance(found, list) else (found,):
            if not isinstance(coding, dict):
                continue
            code, system = coding.get("code"), coding.get("system")
            if (
                isinstance(code, str)
                and code.strip()
                and code_system_kind(system if isinstance(system, str) else "") in _CODED
            ):
                return False
    return True


def entry_text(concepts: Iterable[JsonObject], extra_texts: Iterable[str]) -> str:
    """The entry as written: its first text or display, else a reference's display; "" if none."""
    for concept in concepts:
        for text in concept_texts(concept):
            return text
    return next(iter(extra_texts), "")


def probable_matches(
    concepts: list[JsonObject], extra_texts: list[str], lexicon: Lexicon
) -> tuple[ProbableMatch, ...]:
    """Probable misspelt names in a free-text entry (none for a coded one)."""
    if not is_free_text(concepts):
        return ()
    texts = [text for concept in concepts for text in concept_texts(concept)] + extra_texts
    found: dict[str, ProbableMatch] = {}
    for text in texts:
        for match in lexicon.probable_in_text(text):
            found.setdefault(match.written, match)
    return tuple(found.values())


def probable_display(display: str, matches: Iterable[ProbableMatch]) -> str:
    """The entry as written with what it was read as: "Klonipin 1mg BID (probably clonazepam)"."""
    names = sorted({name for match in matches for name in match.ingredients})
    return f"{display} (probably {' and '.join(names)})"
