"""Each record as read: its fact or why none; free text nothing classified is listed, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cds_service.clinical import medications as meds
from cds_service.clinical.readings import read_records, unrecognised_entries
from tests.pipeline import lexicon, sourced

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _text(text: str, status: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "status": status,
        "medicationCodeableConcept": {"text": text},
        **extra,
    }


def _coded(code: str, display: str) -> dict[str, Any]:
    concept = {"coding": [{"system": RXNORM, "code": code, "display": display}]}
    return {
        "resourceType": "MedicationStatement",
        "status": "active",
        "medicationCodeableConcept": concept,
    }


def _outcomes(*resources: dict[str, Any]) -> list[tuple[str, str]]:
    records, medications = sourced(resources)
    return [(r.outcome, r.text) for r in read_records(records, lexicon(), medications)]


def _unrecognised(*resources: dict[str, Any]) -> tuple[str, ...]:
    records, medications = sourced(resources)
    return unrecognised_entries(records, lexicon(), medications)


def test_read_records_gives_each_record_its_outcome() -> None:
    outcomes = _outcomes(
        _coded("2598", "clonazepam"),
        _text("Klonipin 1mg BID"),
        _text("Zorblax drops"),
        _coded("161", "acetaminophen"),
        _text("diphenhydramine cream"),
        {"resourceType": "Condition"},
    )
    assert outcomes == [
        ("read", "clonazepam"),
        ("read", "Klonipin 1mg BID (probably clonazepam)"),
        ("unrecognised free text", "Zorblax drops"),
        ("no interacting ingredient", "acetaminophen"),
        ("acts locally", "diphenhydramine cream"),
        ("not a medication record", ""),
    ]


def test_read_records_marks_a_probable_fact() -> None:
    records, medications = sourced([_text("Klonipin 1mg BID")])
    (reading,) = read_records(records, lexicon(), medications)
    assert reading.fact is not None
    assert reading.fact.probable
    assert reading.fact.ingredients == frozenset({"clonazepam"})


def test_unrecognised_entries_lists_only_unclassified_free_text() -> None:
    found = _unrecognised(
        _text("Zorblax drops"),
        _text("Klonipin 1mg BID"),
        _coded("161", "acetaminophen"),
        _text("Xanex 1 mg"),
        _text("Mystery tea", status="entered-in-error"),
        _text("diphenhydramine cream"),
    )
    assert found == ("Zorblax drops", "Xanex 1 mg")


def test_unrecognised_entries_on_a_clean_coded_list_is_empty() -> None:
    assert _unrecognised(_coded("161", "acetaminophen"), _coded("2598", "clonazepam")) == ()


def test_unrecognised_entries_when_coded_by_ndc_only_is_empty() -> None:
    concept = {
        "coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "68180-0513-01"}],
        "text": "Lisinopril 10 MG Oral Tablet",
    }
    ndc = {"resourceType": "MedicationStatement", "status": "active"}
    assert _unrecognised({**ndc, "medicationCodeableConcept": concept}) == ()


def test_unrecognised_entries_when_ended_before_the_limit_leaves_it_out() -> None:
    old = _text("Zorblax herbal tea", "completed", effectivePeriod={"end": "2016-01-01"})
    recent = _text("Quixil drops", "stopped", effectivePeriod={"end": "2026-11-20"})
    undated = _text("Vexora tonic", "stopped")
    records, medications = sourced([old, recent, undated])
    limit = datetime(2026, 11, 12, tzinfo=UTC)
    found = unrecognised_entries(records, lexicon(), medications, ended_before=limit)
    assert found == ("Quixil drops", "Vexora tonic")


def test_normalise_reads_a_misspelt_free_text_entry_as_probable() -> None:
    records, medications = sourced([_text("Klonipin 1mg BID")])
    (fact,) = meds.normalise(records, lexicon(), medications)
    assert fact.display == "Klonipin 1mg BID (probably clonazepam)"


def test_normalise_never_fuzzes_a_coded_record() -> None:
    concept = {"coding": [{"system": RXNORM, "code": "999999", "display": "Klonipin"}]}
    record = {"resourceType": "MedicationStatement", "medicationCodeableConcept": concept}
    records, medications = sourced([record])
    assert meds.normalise(records, lexicon(), medications) == ()
