"""The engine's trace: what each class made of each record, read from the evaluation itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cds_service.clinical.readings import read_records
from cds_service.rules.engine import evaluate, evaluate_shadow
from cds_service.rules.explain import ClassCheck, trace_evaluation
from tests.pipeline import DEFAULT_NOW, compiled, ketamine_order, sourced

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NOW = datetime.fromisoformat(DEFAULT_NOW)


def _coded(code: str, display: str, status: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "status": status,
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": code, "display": display}]
        },
        **extra,
    }


def _checks(resource: dict[str, Any], hook: str = "order-sign") -> tuple[ClassCheck, ...]:
    kb, order = compiled(), ketamine_order()
    assert order is not None
    records, medications = sourced([resource])
    readings = read_records(records, kb.lexicon, medications)
    facts = [r.fact for r in readings if r.fact is not None]
    evaluation = evaluate(kb, facts, order, hook=hook, now=NOW)
    shadow = evaluate_shadow(kb, facts, order, hook=hook, now=NOW)
    trace = trace_evaluation(
        kb, readings, evaluation, shadow, hook=hook, now=NOW, start=order.start
    )
    (record,) = trace.records
    return record.classes


def test_trace_when_stopped_inside_washout_counts_it() -> None:
    stopped = _coded("8123", "phenelzine", "stopped", effectivePeriod={"end": "2026-11-20"})
    assert _checks(stopped) == (ClassCheck("MAOI", True, "stopped inside the 14-day washout"),)


def test_trace_when_stopped_without_a_date_ignores_it() -> None:
    (check,) = _checks(_coded("8123", "phenelzine", "stopped"))
    assert (check.counted, check.reason) == (False, "stopped, with no date: outside any washout")


def test_trace_when_long_term_benzodiazepine_just_stopped_names_the_withdrawal_risk() -> None:
    stopped = _coded(
        "2598",
        "clonazepam",
        "stopped",
        effectivePeriod={"start": "2025-01-01", "end": "2026-11-20"},
        dosage=[{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}}],
    )
    assert _checks(stopped) == (
        ClassCheck("BZD", True, "stopped 7 days before, counted as a withdrawal risk"),
    )


def test_trace_when_depot_still_acting_counts_it_as_current() -> None:
    vivitrol = _coded(
        "7243", "Vivitrol 380 MG injection", "completed", effectiveDateTime="2026-11-12"
    )
    checks = _checks(vivitrol)
    assert ClassCheck("OPANTAG", True, "long-acting injection still acting") in checks


def test_trace_when_the_rule_does_not_run_at_the_hook_says_so() -> None:
    # Rules name order-select and order-sign only: at any other rule hook nothing is counted.
    (check,) = _checks(_coded("2598", "clonazepam"), hook="appointment-book")
    assert check == ClassCheck("BZD", False, "the rule does not run at appointment-book")
