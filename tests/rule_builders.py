"""Hand-built rules, facts and orders for the engine and render tests (no knowledge-base files)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cds_service.clinical.types import InfusionStart, KetamineOrder, MedicationFact, Origin
from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.schema import Manifest, RuleSpec

# The evening before the 09:00 start, before any 12 h hold opens (an opened hold reads differently).
NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def rule_data(topic: str = "BZD", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": topic,
        "version": 1,
        "status": "active",
        "title": f"{topic} class",
        "members": [
            {
                "name": "clonazepam",
                "rxcui": "2598",
                "brands": ["Klonopin"],
                "dose_factor": 20,
            },
            {"name": "lorazepam", "rxcui": "6470", "dose_factor": 10},
            {"name": "midazolam", "rxcui": "6960"},
            {"name": "carbamazepine", "rxcui": "2002", "indicator": "critical"},
        ],
        "indicator": {"default": "warning", "as_needed": "info"},
        "summary": {
            "default": "Hold {drugs} {hold_hours} h before the ketamine infusion",
            "light": "As-needed {drugs}: skip doses {hold_hours} h before the ketamine infusion",
            "strong": "Regular {drugs} may blunt ketamine: review; do not stop abruptly",
        },
        "recommendation": "Skip the dose before the infusion if clinically safe.",
        "do_not_stop": "Do not stop a regularly taken benzodiazepine abruptly.",
        "monitoring": "Sedation and SpO2.",
        "hold": {"before_hours": 12, "resume_after_hours": 4},
        "washout_days": 3,
        "dose_policy": {
            "reference_drug": "diazepam",
            "label": "Diazepam-equivalent",
            "unit": "mg/day",
            "equivalence_table": "Ashton Manual table 1",
            "equivalence_url": "https://www.benzo.org.uk/manual/bzcha01.htm",
            "high_dose_mg_per_day": 8,
            "levels": [
                {
                    "threshold": 8,
                    "inclusive": False,
                    "wording": "above the 8 mg/day linked to a blunted response",
                }
            ],
            "below_wording": "at or below the 8 mg/day linked to a blunted response",
            "regular_use_days": 14,
        },
        "evidence": {
            "grade": "C",
            "summary": "Attenuation reported in cohorts.",
            "references": [
                {"citation": "Andrashko 2020", "url": "https://doi.org/10.3389/fpsyt.2020.00844"}
            ],
        },
        "override_reasons": [{"code": "already-held", "display": "Dose already held"}],
        "suggestions": [
            {
                "kind": "add-hold-instruction",
                "label": "Add the hold to the order",
                "is_recommended": True,
            }
        ],
        "owner": "tests",
        "reviewed": "2026-11-27",
    }
    data.update(changes)
    return data


def make_rule(topic: str = "BZD", **changes: Any) -> RuleSpec:
    return RuleSpec.model_validate(rule_data(topic, **changes))


def make_manifest() -> Manifest:
    return Manifest.model_validate(
        {
            "name": "test kb",
            "version": "1.0.0",
            "rxnorm_version": "test release",
            "checked_on": "2026-11-27",
            "topic_system": "http://example.org/topic",
            "override_reason_system": "http://example.org/override",
            "source_label": "Test source",
            "source_url": "https://example.org/cards",
            "ketamine": {"rxcui": ["6130"], "names": ["ketamine"]},
        }
    )


def make_kb(*rules: RuleSpec) -> KnowledgeBase:
    return KnowledgeBase(manifest=make_manifest(), rules=rules)


def make_fact(
    ingredient: str = "clonazepam",
    *,
    status: str = "active",
    as_needed: bool = False,
    daily_mg: float | None = None,
    started: datetime | None = None,
    ended: datetime | None = None,
    reported: bool = False,
    ident: str = "1",
    display: str | None = None,
) -> MedicationFact:
    return MedicationFact(
        reference=f"MedicationStatement/{ident}",
        resource_type="MedicationStatement",
        display=display or f"{ingredient} 0.5 MG Oral Tablet",
        ingredients=frozenset({ingredient}),
        status=status,
        as_needed=as_needed,
        reported=reported,
        started=started,
        ended=ended,
        daily_mg={ingredient: daily_mg} if daily_mg is not None else {},
        dose_text="0.5 mg twice daily" if daily_mg is not None else None,
        origin=Origin.PREFETCH,
        source_key="medicationStatements",
    )


def make_order(
    start: datetime | InfusionStart | None = START, resource: dict[str, Any] | None = None
) -> KetamineOrder:
    body = resource or {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": "ketamine infusion"},
    }
    return KetamineOrder(
        reference=f"{body['resourceType']}/{body.get('id', '#0')}",
        resource_type=body["resourceType"],
        display="ketamine infusion",
        resource=body,
        start=InfusionStart.instant(start) if isinstance(start, datetime) else start,
    )
