"""The patient's context for one evaluation: facts with conditions and substance use, and its gaps."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from cds_service.cdshooks.prefetch import BLOOD_PRESSURE, CONDITIONS, SOCIAL_HISTORY
from cds_service.clinical.medications import NormaliseMemo
from cds_service.clinical.types import MedicationData
from cds_service.rules.findings import Evaluation, Finding
from cds_service.rules.knowledge import CompiledKnowledgeBase
from cds_service.rules.patient import PatientReading, read_patient

log = logging.getLogger("cds_service.service")


def patient_facts(
    kb: CompiledKnowledgeBase,
    data: MedicationData,
    now: datetime,
    memo: NormaliseMemo | None = None,
) -> PatientReading:
    """The medication and substance facts, the Conditions and readings that shape the cards, and
    the entries nothing recognised."""
    records = data.context_records
    return read_patient(
        kb,
        data.resources,
        data.medications,
        conditions=records.get(CONDITIONS, ()),
        observations=(*records.get(SOCIAL_HISTORY, ()), *records.get(BLOOD_PRESSURE, ())),
        now=now,
        memo=memo,
    )


def with_context_gaps(
    kb: CompiledKnowledgeBase, data: MedicationData, evaluation: Evaluation
) -> Evaluation:
    """The evaluation with each patient-context gap said on the cards it could have changed (a
    Condition: a modifier's or a use disorder's class; a reading: a modifier's with a reading).
    Never a card of its own: the medication list itself was read. Social-history gaps, and any gap
    on a clean list, are logged and counted only."""
    if not data.context_gaps:
        return evaluation
    log.info("patient context incomplete", extra={"gaps": [g.what for g in data.all_context_gaps]})
    concerns = {CONDITIONS: kb.condition_topics, BLOOD_PRESSURE: kb.reading_topics}
    findings = tuple(_unchecked(finding, data, concerns) for finding in evaluation.findings)
    return replace(evaluation, findings=findings)


def _unchecked(
    finding: Finding, data: MedicationData, concerns: Mapping[str, frozenset[str]]
) -> Finding:
    lines = [
        f"{gap.what} ({gap.reason})"
        for key, gaps in data.context_gaps.items()
        if finding.rule.id in concerns.get(key, frozenset())
        for gap in gaps
    ]
    return replace(finding, unchecked=tuple(lines)) if lines else finding
