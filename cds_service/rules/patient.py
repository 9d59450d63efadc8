"""Everything known about the patient for one evaluation: medication facts, substance use, conditions.

The one place the medication normaliser, the substance readers and the condition readers meet, so the
service and the rule-case harness read a patient the same way. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cds_service.clinical import medications as meds
from cds_service.clinical.conditions import PatientContext, read_context
from cds_service.clinical.readings import unrecognised_entries
from cds_service.clinical.substances import substance_facts, without_denied_use
from cds_service.clinical.types import JsonObject, MedicationFact, SourcedResource
from cds_service.rules.knowledge import CompiledKnowledgeBase


@dataclass(frozen=True, slots=True)
class PatientReading:
    """What one evaluation knows about the patient."""

    facts: tuple[MedicationFact, ...]  # what the rules evaluate
    context: PatientContext  # conditions and readings that shape the cards
    # Free-text entries nothing recognised, as written: listed on one card, never logged.
    unrecognised: tuple[str, ...] = ()


def read_patient(
    kb: CompiledKnowledgeBase,
    records: Sequence[SourcedResource],
    medications: Mapping[str, JsonObject],
    *,
    conditions: Sequence[SourcedResource] = (),
    observations: Sequence[SourcedResource] = (),
    now: datetime,
    memo: meds.NormaliseMemo | None = None,
) -> PatientReading:
    """The facts the rules evaluate, the context that shapes their cards, and what was not read.

    ``observations`` are social-history and blood-pressure Observations together: each reader keeps
    the codes it knows; ``memo`` remembers each product's reading across calls (the service's).
    The list is walked once, by the normaliser; the other readers look only at the records it
    points them to (uncoded ones, ones stating a reason).
    """
    listed = meds.read_list(records, kb.lexicon, medications, memo)
    uncoded = listed.uncoded
    facts = without_denied_use(listed.facts, records, kb.substances, uncoded)
    pairs = [
        (meds.record_reference(records[index].resource, index), records[index].resource)
        for index in listed.reasoned
    ]
    patient = read_context(
        (sourced.resource for sourced in conditions),
        pairs,
        (sourced.resource for sourced in observations),
        kb.conditions,
    )
    extra = substance_facts(
        records, facts, observations, patient, kb.substances, kb.lexicon, now, uncoded
    )
    everything = (*facts, *extra)
    unrecognised: tuple[str, ...] = ()
    if uncoded:
        read = {fact.reference for fact in everything}
        since = now - timedelta(days=kb.longest_washout_days)
        unrecognised = unrecognised_entries(records, kb.lexicon, medications, read, since, uncoded)
    return PatientReading(everything, patient, unrecognised)
