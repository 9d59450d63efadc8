"""The patient read in one pass: the readers that look only where the normaliser points them find
exactly what a full walk of the list finds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cds_service.clinical import medications as meds
from cds_service.clinical.readings import unrecognised_entries
from cds_service.clinical.substances import substance_facts, without_denied_use
from cds_service.clinical.types import JsonObject, Origin, SourcedResource
from cds_service.rules.patient import read_patient
from tests.pipeline import compiled
from tests.pipeline import sourced as prefetched

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _statement(rid: str, concept: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": rid,
        "status": "active",
    }
    if concept is not None:
        resource["medicationCodeableConcept"] = concept
    return {**resource, **extra}


def _coded(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": RXNORM, "code": code, "display": display}]}


MIXED: list[dict[str, Any]] = [
    _statement("coded-bzd", _coded("2598", "Clonazepam 0.5 MG Oral Tablet")),
    _statement("coded-plain", _coded("314076", "Lisinopril 10 MG Oral Tablet")),
    _statement("drinks", {"text": "Alcohol - 4 to 6 beers daily"}),
    _statement("denied", {"text": "Denies cocaine use"}),
    _statement("unknown-text", {"text": "Zorblax herbal drops"}),
    _statement(
        "local-code", {"coding": [{"system": "urn:oid:1.2.3", "code": "9", "display": "Qwyx"}]}
    ),
    # A Medication by reference, named only in free text: the unchecked card must list it.
    _statement("by-reference", medicationReference={"reference": "Medication/m-1"}),
    {"resourceType": "Medication", "id": "m-1", "code": {"text": "Zorblax drops"}},
    _statement(
        "reasoned",
        _coded("28439", "lamotrigine 100 MG Oral Tablet"),
        reasonCode=[{"text": "Epilepsy"}],
    ),
    {
        "resourceType": "MedicationOrder",
        "id": "dstu2",
        "medicationCodeableConcept": {"text": "Xanax"},
    },
    _statement("coded-alcohol-display", _coded("448", "Alcohol 70 % topical")),
]


def sourced(
    resources: list[dict[str, Any]],
) -> tuple[tuple[SourcedResource, ...], dict[str, JsonObject]]:
    """The records as prefetched, and one whose resourceType is not a string (never read)."""
    records, medications = prefetched(resources)
    odd = SourcedResource({"resourceType": ["MedicationStatement"]}, Origin.PREFETCH, "x")
    return (*records, odd), medications


def test_read_list_marks_free_text_and_referenced_records_as_uncoded() -> None:
    records, medications = sourced(MIXED)
    kb = compiled()
    reading = meds.read_list(records, kb.lexicon, medications, meds.normalise_memo(kb.lexicon))
    ids = [records[i].resource.get("id") for i in reading.uncoded]
    assert ids == ["drinks", "denied", "unknown-text", "local-code", "by-reference", "dstu2"]
    assert [records[i].resource.get("id") for i in reading.reasoned] == ["reasoned"]


@pytest.mark.parametrize("with_memo", [True, False])
def test_read_patient_finds_what_a_full_walk_of_every_reader_finds(with_memo: bool) -> None:
    records, medications = sourced(MIXED)
    kb = compiled()
    memo = meds.normalise_memo(kb.lexicon) if with_memo else None
    reading = read_patient(kb, records, medications, now=NOW, memo=memo)

    # Every reader over the whole list, as before the list was read once.
    facts = without_denied_use(
        meds.normalise(records, kb.lexicon, medications), records, kb.substances
    )
    extra = substance_facts(records, facts, (), reading.context, kb.substances, kb.lexicon, NOW)
    everything = (*facts, *extra)
    read = {fact.reference for fact in everything}
    since = NOW - timedelta(days=kb.longest_washout_days)
    entries = unrecognised_entries(records, kb.lexicon, medications, read, since)

    assert reading.facts == everything
    assert reading.unrecognised == entries
    assert "Zorblax drops" in reading.unrecognised  # the referenced free-text Medication
    assert {f.reference for f in reading.facts} >= {"MedicationStatement/drinks"}


def test_read_list_counts_a_record_whose_look_up_fails_as_malformed_and_reads_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records, medications = sourced(MIXED[:2])
    kb = compiled()
    memo = meds.normalise_memo(kb.lexicon)
    looked = memo.kinds

    def failing(concept: Any) -> int:
        if "Lisinopril" in str(concept):
            raise ValueError("lexicon failure")
        return looked(concept)

    monkeypatch.setattr(memo, "kinds", failing)
    reading = meds.read_list(records, kb.lexicon, medications, memo)
    assert reading.stats.malformed == 1
    assert [f.reference for f in reading.facts] == ["MedicationStatement/coded-bzd"]
