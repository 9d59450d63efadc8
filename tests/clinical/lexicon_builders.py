"""A small hand-made knowledge base and its lexicon, so lexicon/meds/orders tests do not depend on cards/."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from cds_service.clinical.lexicon import Lexicon
from cds_service.rules.knowledge import KnowledgeBase, compile_knowledge_base
from cds_service.rules.schema import KetamineTerms, Manifest, Member, RuleSpec

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"

KETAMINE = KetamineTerms(
    rxcui=("6130",),
    product_codes=("238082", "238083", "238084", "206967"),
    snomed=("373464007", "781953007"),
    names=("ketamine", "ketalar"),
    esketamine_rxcui=("2283299",),
    esketamine_snomed=("789488000",),
    esketamine_names=("esketamine", "spravato"),
    infusion_service_terms=("infusion", "iv", "intravenous"),
)

MEMBERS: dict[str, tuple[Member, ...]] = {
    "BZD": (
        Member(name="clonazepam", rxcui="2598", brands=("Klonopin",), dose_factor=20),
        Member(name="alprazolam", rxcui="596", product_codes=("308047",), brands=("Xanax",)),
        Member(name="lorazepam", rxcui="6470", brands=("Ativan",), snomed=("387106007",)),
    ),
    "LTG": (Member(name="lamotrigine", rxcui="28439", brands=("Lamictal", "Lamictal XR")),),
    "OPIOID": (
        Member(name="oxycodone", rxcui="7804", brands=("OxyContin", "Percocet")),
        Member(name="buprenorphine", rxcui="1819", brands=("Suboxone", "Subutex")),
    ),
    "OPANTAG": (Member(name="naltrexone", rxcui="7243", brands=("Vivitrol", "ReVia")),),
    "STIM": (
        Member(name="amphetamine", rxcui="725", brands=("Adderall",)),
        Member(name="dextroamphetamine", rxcui="3288", brands=("Dexedrine",)),
        Member(name="methylphenidate", rxcui="6901", brands=("Ritalin", "Concerta")),
        Member(name="dexmethylphenidate", rxcui="352372", brands=("Focalin",)),
    ),
    "CYPIND": (Member(name="carbamazepine", rxcui="2002", brands=("Tegretol",)),),
    "AED": (Member(name="carbamazepine", rxcui="2002", brands=("Tegretol",)),),
}


def rule(topic: str, members: tuple[Member, ...], status: str = "active") -> RuleSpec:
    """A minimal valid rule for a class; only the members matter to the core."""
    data: dict[str, Any] = {
        "id": topic,
        "version": 1,
        "status": status,
        "title": f"{topic} class",
        "members": [m.model_dump() for m in members],
        "indicator": {"default": "info"},
        "summary": {"default": "Review {drugs} before the ketamine infusion"},
        "recommendation": "Review with the prescriber.",
        "evidence": {
            "grade": "D",
            "summary": "Mechanism and clinic practice only.",
            "references": [{"citation": "A reference", "url": "https://example.org/ref"}],
        },
        "override_reasons": [{"code": "reviewed", "display": "Reviewed with the prescriber"}],
        "owner": "test",
        "reviewed": date(2025, 1, 1),
    }
    return RuleSpec.model_validate(data)


def knowledge_base(extra_rules: tuple[RuleSpec, ...] = ()) -> KnowledgeBase:
    manifest = Manifest(
        name="test kb",
        version="0.1.0",
        rxnorm_version="2025-01",
        checked_on=date(2025, 1, 1),
        topic_system="https://example.org/topics",
        override_reason_system="https://example.org/override",
        source_label="Test KB",
        source_url="https://example.org/",
        ketamine=KETAMINE,
    )
    rules = tuple(rule(topic, members) for topic, members in MEMBERS.items())
    return KnowledgeBase(manifest=manifest, rules=rules + extra_rules)


@cache
def built_lexicon() -> Lexicon:
    """The lexicon of the hand-made knowledge base, compiled once per test session."""
    return compile_knowledge_base(knowledge_base()).lexicon
