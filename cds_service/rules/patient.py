"""Everything known about the patient for one evaluation: medication facts, substance use, conditions.

The one place the medication normaliser, the substance readers and the condition readers meet, so the
service and the rule-case harness read a patient the same way. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from cds_service.clinical import medications as meds
from cds_service.clinical.conditions import PatientContext, read_context
from cds_service.clinical.substances import substance_facts, without_denied_use
from cds_service.clinical.types import JsonObject, MedicationFact, SourcedResource
from cds_service.rules.knowledge import CompiledKnowledgeBase


def read_patient(
    kb: CompiledKnowledgeBase,
    records: Sequence[SourcedResource],
    medications: Mapping[str, JsonObject],
    *,
    conditions: Sequence[SourcedResource] = (),
    observations: Sequence[SourcedResource] = (),
    now: datetime,
    memo: meds.NormaliseMemo | None = None,
) -> tuple[tuple[MedicationFact, ...], PatientContext]:
    """The facts the rules evaluate and the context that shapes their cards.

    ``observations`` are social-history and blood-pressure Observations together: each reader keeps
    the codes it knows; ``memo`` remembers each product's reading across calls (the service's).
    """
    facts = without_denied_use(
        meds.normalise(records, kb.lexicon, medications, memo), records, kb.substances
    )
    # Only a record that states a reason can have an indication (most records do not).
    pairs = [
        (meds.record_reference(resource, index), resource)
        for index, sourced in enumerate(records)
        if isinstance(resource := sourced.resource, dict)
        and ("reasonCode" in resource or "reasonReference" in resource)
    ]
    patient = read_context(
        (sourced.resource for sourced in conditions),
        pairs,
        (sourced.resource for sourced in observations),
        kb.conditions,
    )
    extra = substance_facts(records, facts, observations, patient, kb.substances, kb.lexicon, now)
    return (*facts, *extra), patient
