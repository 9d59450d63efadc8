"""References resolve: a verified one names its PubMed id or DOI, an unverified one says so."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cds_service.rules.loader import load_knowledge_base
from cds_service.rules.schema import Evidence, Reference

CARDS_DIR = Path(__file__).resolve().parents[2] / "cards"


@cache
def _evidence() -> list[tuple[str, Evidence]]:
    kb = load_knowledge_base(CARDS_DIR)
    found = [(rule.id, rule.evidence) for rule in kb.rules]
    return found + [(c.id, c.evidence) for c in kb.manifest.combinations]


def test_reference_when_search_url_claims_verified_is_refused() -> None:
    with pytest.raises(ValidationError, match="search is not a verified source"):
        Reference(citation="Somebody 2020", url="https://pubmed.ncbi.nlm.nih.gov/?term=x")


def test_reference_when_pmid_and_url_disagree_is_refused() -> None:
    with pytest.raises(ValidationError, match="PubMed id 123"):
        Reference(citation="Somebody 2020", url="https://pubmed.ncbi.nlm.nih.gov/999/", pmid="123")


def test_reference_when_doi_and_url_disagree_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"DOI 10\.1000/abc"):
        Reference(citation="Somebody 2020", url="https://example.org/paper", doi="10.1000/abc")


def test_reference_with_identifier_marked_unverified_is_refused() -> None:
    data: dict[str, Any] = {"citation": "Somebody 2020", "url": "https://doi.org/10.1000/abc"}
    with pytest.raises(ValidationError, match="verified PMID or DOI"):
        Reference(**data, doi="10.1000/abc", verified=False)


def test_reference_unverified_search_is_accepted() -> None:
    reference = Reference(
        citation="Somebody 2020", url="https://pubmed.ncbi.nlm.nih.gov/?term=x", verified=False
    )
    assert reference.verified is False


@pytest.mark.parametrize(("topic", "evidence"), _evidence(), ids=[t for t, _ in _evidence()])
def test_catalogue_evidence_with_an_unverified_reference_says_so(
    topic: str, evidence: Evidence
) -> None:
    if all(reference.verified for reference in evidence.references):
        return
    summary = evidence.summary.lower()
    assert "not verified" in summary or "unverified" in summary, topic


@pytest.mark.parametrize(("topic", "evidence"), _evidence(), ids=[t for t, _ in _evidence()])
def test_catalogue_every_paper_reference_has_an_identifier_or_is_unverified(
    topic: str, evidence: Evidence
) -> None:
    for reference in evidence.references:
        url = str(reference.url)
        if "pubmed" in url or "doi.org" in url:
            assert reference.pmid or reference.doi or not reference.verified, (topic, url)
        if not reference.verified:
            assert reference.note, (topic, reference.citation)
