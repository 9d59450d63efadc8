"""The patient's context for one evaluation: facts with conditions and substance use, and its gaps."""

from __future__ import annotations

import logging
from datetime import datetime

from cds_service.cdshooks.prefetch import BLOOD_PRESSURE, CONDITIONS, SOCIAL_HISTORY
from cds_service.clinical.conditions import PatientContext
from cds_service.clinical.types import DataGap, MedicationData, MedicationFact
from cds_service.rules.findings import Evaluation
from cds_service.rules.knowledge import CompiledKnowledgeBase
from cds_service.rules.patient import read_patient

log = logging.getLogger("cds_service.service")


def patient_facts(
    kb: CompiledKnowledgeBase, data: MedicationData, now: datetime
) -> tuple[tuple[MedicationFact, ...], PatientContext]:
    """The medication and substance facts, and the Conditions and readings that shape the cards."""
    records = data.context_records
    return read_patient(
        kb,
        data.resources,
        data.medications,
        conditions=records.get(CONDITIONS, ()),
        observations=(*records.get(SOCIAL_HISTORY, ()), *records.get(BLOOD_PRESSURE, ())),
        now=now,
    )


def context_gaps(
    kb: CompiledKnowledgeBase, data: MedicationData, evaluation: Evaluation
) -> list[DataGap]:
    """The patient-context gaps a card shows: a key's, only beside a class card its data could have
    changed (a Condition modifier's class; a blood-pressure reading's). Otherwise, and always for
    social history, they are logged and counted, never a card on every order: the medication list
    itself was read."""
    if not data.context_gaps:
        return []
    log.info("patient context incomplete", extra={"gaps": [g.what for g in data.all_context_gaps]})
    shown = {finding.rule.id for finding in evaluation.findings}
    concerns = {CONDITIONS: kb.condition_topics, BLOOD_PRESSURE: kb.reading_topics}
    return [
        gap
        for key, gaps in data.context_gaps.items()
        if shown & concerns.get(key, frozenset())
        for gap in gaps
    ]
