"""The real pure pipeline for tests: orders -> meds.normalise -> engine.evaluate -> render_cards."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from cds_service.cdshooks.models import Card
from cds_service.clinical import orders
from cds_service.clinical.lexicon import Lexicon
from cds_service.clinical.types import KetamineOrder, Origin, SourcedResource
from cds_service.render.cards import SPEC_PROFILE, CallContext, CardRenderer, RenderOptions
from cds_service.render.profiles import Profile
from cds_service.rules.engine import evaluate
from cds_service.rules.findings import Evaluation
from cds_service.rules.knowledge import CompiledKnowledgeBase, KnowledgeBase, compile_knowledge_base
from cds_service.rules.loader import load_knowledge_base
from cds_service.rules.overrides import RuleOverride
from cds_service.rules.patient import read_patient

REPO = Path(__file__).resolve().parents[1]
CARDS_DIR = REPO / "cards"
# The evening before the default 09:00 start, before a 12 h hold opens (an opened one reads differently).
DEFAULT_NOW = "2026-11-26T20:00:00+00:00"
DEFAULT_ORDER: dict[str, Any] = {
    "resourceType": "MedicationRequest",
    "id": "request-123",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/example"},
    "medicationCodeableConcept": {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "6130",
                "display": "ketamine",
            }
        ],
        "text": "ketamine 0.5 mg/kg IV infusion over 40 minutes",
    },
    "dosageInstruction": [{"timing": {"event": ["2026-11-27T09:00:00+00:00"]}}],
}
SOURCE_KEYS = {
    "MedicationStatement": "medicationStatements",
    "MedicationRequest": "medicationRequests",
}


@cache
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(CARDS_DIR)


@cache
def compiled() -> CompiledKnowledgeBase:
    return compile_knowledge_base(knowledge_base())


def lexicon() -> Lexicon:
    return compiled().lexicon


@cache
def renderer(kb: CompiledKnowledgeBase | None = None) -> CardRenderer:
    kb = kb or compiled()
    return CardRenderer(kb, RenderOptions.for_knowledge_base(kb.source))


def ketamine_order(order: Mapping[str, Any] | None = None) -> KetamineOrder | None:
    body = dict(order or DEFAULT_ORDER)
    bundle = body if body.get("resourceType") == "Bundle" else {"entry": [{"resource": body}]}
    found = orders.find_ketamine_orders(
        bundle, None, lexicon(), include_esketamine=False, medications={}
    )
    return found[0] if found else None


def sourced(
    resources: Iterable[Mapping[str, Any]],
) -> tuple[tuple[SourcedResource, ...], dict[str, Any]]:
    """Medication records as prefetched, plus Medication resources keyed by reference."""
    records: list[SourcedResource] = []
    medications: dict[str, Any] = {}
    for resource in resources:
        kind = resource.get("resourceType", "")
        if kind == "Medication":
            medications[f"Medication/{resource.get('id')}"] = dict(resource)
        else:
            key = SOURCE_KEYS.get(kind, "medications")
            records.append(SourcedResource(dict(resource), Origin.PREFETCH, key))
    return tuple(records), medications


def run(
    resources: Iterable[Mapping[str, Any]],
    *,
    order: Mapping[str, Any] | None = None,
    now: str | datetime | None = None,
    overrides: Mapping[str, RuleOverride] | None = None,
    hook: str = "order-sign",
    profile: Profile | None = None,
    source: KnowledgeBase | None = None,
    conditions: Iterable[Mapping[str, Any]] = (),
    observations: Iterable[Mapping[str, Any]] = (),
) -> tuple[Evaluation | None, list[Card]]:
    """Evaluation and cards; (None, []) when the order is not a ketamine infusion.

    ``source`` is another knowledge base to compile (default: the bundled one).
    """
    if source is not None:
        kb = compile_knowledge_base(source, overrides)
    else:
        kb = compile_knowledge_base(knowledge_base(), overrides) if overrides else compiled()
    found = ketamine_order(order)
    if found is None:
        return None, []
    moment = now if isinstance(now, datetime) else datetime.fromisoformat(now or DEFAULT_NOW)
    records, medications = sourced(resources)
    reading = read_patient(
        kb,
        records,
        medications,
        conditions=_context(conditions, "conditions"),
        observations=_context(observations, "socialHistory"),
        now=moment,
    )
    evaluation = evaluate(kb, reading.facts, found, hook=hook, now=moment, patient=reading.context)
    call = CallContext(patient_id="example", now=moment, profile=profile or SPEC_PROFILE)
    return evaluation, renderer(kb).cards(evaluation, found, [], call)


def _context(resources: Iterable[Mapping[str, Any]], key: str) -> tuple[SourcedResource, ...]:
    return tuple(SourcedResource(dict(r), Origin.PREFETCH, key) for r in resources)


def as_active(kb: KnowledgeBase, topic: str) -> KnowledgeBase:
    """The knowledge base with one (shadow) rule active: its cases say what it would show."""
    rules = tuple(
        r.model_copy(update={"status": "active"}) if r.id == topic else r for r in kb.rules
    )
    return replace(kb, rules=rules)


def cards_of(cards: list[Card], topic: str) -> list[Card]:
    return [card for card in cards if card.source.topic and card.source.topic.code == topic]
