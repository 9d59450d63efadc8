"""Medication normalisation: ingredients from every shape, status, dates and tolerance of junk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cds_service.clinical.fhirjson import parse_instant
from cds_service.clinical.lexicon import Lexicon
from cds_service.clinical.medications import normalise, read_list
from cds_service.clinical.types import MedicationFact, Origin, SourcedResource, sourced_records
from tests.clinical.lexicon_builders import RXNORM, SNOMED, built_lexicon


@pytest.fixture
def lexicon() -> Lexicon:
    return built_lexicon()


def sourced(resource: Any) -> SourcedResource:
    return SourcedResource(
        resource=resource, origin=Origin.PREFETCH, source_key="medicationStatements"
    )


def statement(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "id": "ms1", "status": "active", **fields}


def one(
    lexicon: Lexicon, resource: Any, medications: dict[str, Any] | None = None
) -> MedicationFact:
    facts = normalise([sourced(resource)], lexicon, medications or {})
    assert len(facts) == 1
    return facts[0]


def coded(code: str, display: str = "", system: str = RXNORM) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def test_normalise_when_coded_by_ingredient_code_finds_ingredient(lexicon: Lexicon) -> None:
    fact = one(lexicon, statement(medicationCodeableConcept=coded("2598")))
    assert fact.ingredients == {"clonazepam"}
    assert fact.reference == "MedicationStatement/ms1"


def test_normalise_when_code_unknown_reads_coding_display(lexicon: Lexicon) -> None:
    concept = coded("197527", "Clonazepam 0.5 MG Oral Tablet")
    assert one(lexicon, statement(medicationCodeableConcept=concept)).ingredients == {"clonazepam"}


def test_normalise_when_snomed_coded_finds_ingredient(lexicon: Lexicon) -> None:
    concept = coded("387106007", system=SNOMED)
    assert one(lexicon, statement(medicationCodeableConcept=concept)).ingredients == {"lorazepam"}


def test_normalise_when_only_brand_text_in_odd_case_finds_ingredient(lexicon: Lexicon) -> None:
    fact = one(lexicon, statement(medicationCodeableConcept={"text": "KLONOPIN 0.5mg"}))
    assert fact.ingredients == {"clonazepam"}
    assert fact.display == "KLONOPIN 0.5mg"


def test_normalise_when_combination_product_finds_each_member(lexicon: Lexicon) -> None:
    concept = {"text": "amphetamine aspartate 5 MG / dextroamphetamine sulfate 5 MG Oral Tablet"}
    fact = one(lexicon, statement(medicationCodeableConcept=concept))
    assert fact.ingredients == {"amphetamine", "dextroamphetamine"}


def test_normalise_when_contained_medication_reads_code_and_ingredients(lexicon: Lexicon) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "med1",
        "code": {"text": "Compounded capsule"},
        "ingredient": [
            {"itemCodeableConcept": coded("28439")},
            {"itemReference": {"display": "Clonazepam"}},
        ],
    }
    resource = statement(contained=[medication], medicationReference={"reference": "#med1"})
    fact = one(lexicon, resource)
    assert fact.ingredients == {"lamotrigine", "clonazepam"}
    assert fact.display == "Compounded capsule"


@pytest.mark.parametrize(
    "key", ["Medication/m9", "https://fhir.example.org/r4/Medication/m9", "urn:uuid:1234"]
)
def test_normalise_when_reference_points_at_known_medication_resolves_it(
    lexicon: Lexicon, key: str
) -> None:
    medications = {key: {"resourceType": "Medication", "id": "m9", "code": coded("7243")}}
    resource = statement(medicationReference={"reference": key})
    assert one(lexicon, resource, medications).ingredients == {"naltrexone"}


def test_normalise_when_absolute_reference_and_relative_key_resolves_it(lexicon: Lexicon) -> None:
    medications = {"Medication/m9": {"resourceType": "Medication", "code": coded("7243")}}
    resource = statement(medicationReference={"reference": "https://x.org/fhir/Medication/m9"})
    assert one(lexicon, resource, medications).ingredients == {"naltrexone"}


def test_normalise_when_reference_unresolved_uses_its_display(lexicon: Lexicon) -> None:
    resource = statement(medicationReference={"reference": "Medication/zz", "display": "Xanax"})
    assert one(lexicon, resource).ingredients == {"alprazolam"}


def test_normalise_when_no_member_ingredient_produces_no_fact(lexicon: Lexicon) -> None:
    resource = statement(medicationCodeableConcept=coded("245420", "Naproxen 125 MG Oral Tablet"))
    reading = read_list([sourced(resource)], lexicon, {})
    facts, stats = reading.facts, reading.stats
    assert facts == ()
    assert (stats.read, stats.with_known_ingredient, stats.malformed) == (1, 0, 0)


@pytest.mark.parametrize(
    "junk",
    [
        None,
        "text",
        [1, 2],
        {"resourceType": "MedicationStatement", "medicationCodeableConcept": "Klonopin"},
        {"resourceType": "MedicationStatement", "medicationCodeableConcept": {"coding": "x"}},
        {"resourceType": "MedicationStatement", "medicationCodeableConcept": {"coding": [None, 3]}},
        {"resourceType": "MedicationStatement", "medicationCodeableConcept": {"text": 7}},
        {"resourceType": "MedicationStatement", "medicationReference": ["#a"], "contained": {}},
        {"resourceType": "MedicationStatement", "dosage": "twice", "effectivePeriod": []},
        {"resourceType": "Observation", "code": {"text": "clonazepam"}},
    ],
)
def test_normalise_when_resource_malformed_never_raises(lexicon: Lexicon, junk: Any) -> None:
    good = statement(medicationCodeableConcept={"text": "Klonopin"})
    facts = normalise([sourced(junk), sourced(good)], lexicon, {})
    assert [fact.ingredients for fact in facts] == [{"clonazepam"}]


def test_normalise_when_fields_malformed_keeps_ingredient_and_drops_bad_fields(
    lexicon: Lexicon,
) -> None:
    resource = statement(
        medicationCodeableConcept={"text": "Klonopin"},
        status=5,
        category={"coding": [{"code": "community"}]},
        effectivePeriod={"start": "yesterday", "end": 3},
        dosage={"text": "one at night", "timing": "nightly", "doseAndRate": {"doseQuantity": 1}},
    )
    fact = one(lexicon, resource)
    assert fact.status == ""
    assert fact.started is None
    assert fact.ended is None
    assert fact.daily_mg == {}
    assert fact.dose_text == "one at night"


def test_normalise_when_no_id_uses_position_reference(lexicon: Lexicon) -> None:
    other = statement(medicationCodeableConcept={"text": "aspirin"})
    resource = {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"text": "Xanax"}}
    facts = normalise([sourced(other), sourced(resource)], lexicon, {})
    assert facts[0].reference == "MedicationRequest/#1"


def test_normalise_when_status_mixed_case_lowercases_it(lexicon: Lexicon) -> None:
    resource = statement(status="On-Hold", medicationCodeableConcept={"text": "Xanax"})
    assert one(lexicon, resource).status == "on-hold"


def test_normalise_when_statement_is_reported_and_request_is_not(lexicon: Lexicon) -> None:
    request = {
        "resourceType": "MedicationRequest",
        "id": "r",
        "medicationCodeableConcept": {"text": "Xanax"},
    }
    assert one(lexicon, statement(medicationCodeableConcept={"text": "Xanax"})).reported
    assert not one(lexicon, request).reported
    assert one(lexicon, {**request, "reportedBoolean": True}).reported
    assert one(lexicon, {**request, "reportedReference": {"reference": "Patient/1"}}).reported


def test_normalise_keeps_origin_and_source_key(lexicon: Lexicon) -> None:
    item = SourcedResource(
        resource=statement(medicationCodeableConcept={"text": "Xanax"}),
        origin=Origin.FHIR_SERVER,
        source_key="medicationRequests",
    )
    fact = normalise([item], lexicon, {})[0]
    assert (fact.origin, fact.source_key) == (Origin.FHIR_SERVER, "medicationRequests")


def test_normalise_when_effective_period_reads_start_and_end(lexicon: Lexicon) -> None:
    resource = statement(
        medicationCodeableConcept={"text": "Xanax"},
        effectivePeriod={"start": "2026-01-02", "end": "2026-11-20T10:00:00+01:00"},
        dateAsserted="2025-01-01",
    )
    fact = one(lexicon, resource)
    assert fact.started == datetime(2026, 1, 2, tzinfo=UTC)
    assert fact.ended == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_normalise_when_request_reads_authored_on_then_validity(lexicon: Lexicon) -> None:
    request = {
        "resourceType": "MedicationRequest",
        "medicationCodeableConcept": {"text": "Xanax"},
        "dispenseRequest": {"validityPeriod": {"start": "2026-03-01", "end": "2026-09-01"}},
    }
    fact = one(lexicon, request)
    assert fact.started == datetime(2026, 3, 1, tzinfo=UTC)
    assert fact.ended == datetime(2026, 9, 1, tzinfo=UTC)
    assert one(lexicon, {**request, "authoredOn": "2026-02-01"}).started == datetime(
        2026, 2, 1, tzinfo=UTC
    )


def test_normalise_when_stopped_statement_without_end_uses_date_asserted(lexicon: Lexicon) -> None:
    resource = statement(
        status="stopped",
        medicationCodeableConcept={"text": "Xanax"},
        effectiveDateTime="2026-10-01",
        dateAsserted="2026-11-20",
    )
    assert one(lexicon, resource).ended == datetime(2026, 11, 20, tzinfo=UTC)


def test_normalise_when_active_statement_without_end_has_no_end(lexicon: Lexicon) -> None:
    resource = statement(medicationCodeableConcept={"text": "Xanax"}, dateAsserted="2026-11-20")
    assert one(lexicon, resource).ended is None


def test_normalise_when_stopped_request_without_end_adds_supply_to_authored_on(
    lexicon: Lexicon,
) -> None:
    request = {
        "resourceType": "MedicationRequest",
        "status": "completed",
        "medicationCodeableConcept": {"text": "Nardil Xanax"},
        "authoredOn": "2026-11-01",
        "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "days"}},
    }
    assert one(lexicon, request).ended == datetime(2026, 12, 1, tzinfo=UTC)
    del request["dispenseRequest"]
    assert one(lexicon, request).ended == datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-27", datetime(2026, 11, 27, tzinfo=UTC)),
        ("2026-11", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-11-27T10:30:00Z", datetime(2026, 11, 27, 10, 30, tzinfo=UTC)),
        ("2026-11-27T10:30:00.123-05:00", datetime(2026, 11, 27, 15, 30, 0, 123000, tzinfo=UTC)),
        ("2026-11-27T10:30:00", datetime(2026, 11, 27, 10, 30, tzinfo=UTC)),
        ("not a date", None),
        (20261127, None),
        (None, None),
    ],
)
def test_parse_instant_when_fhir_date_forms_returns_aware_datetime(
    value: Any, expected: datetime | None
) -> None:
    parsed = parse_instant(value)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


def test_normalise_when_thousand_statements_gives_one_fact_each(lexicon: Lexicon) -> None:
    # How fast is the benchmark's question (cds-service bench, 1000 medications); this is what.
    resources = [
        sourced(
            statement(
                id=f"s{i}",
                medicationCodeableConcept=coded(
                    str(100000 + i), f"Drug{i} 10 MG Oral Tablet [Klonopin]"
                ),
                dosage=[
                    {
                        "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                        "doseAndRate": [{"doseQuantity": {"value": 1, "code": "{tbl}"}}],
                    }
                ],
                effectivePeriod={"start": "2026-01-01"},
            )
        )
        for i in range(1000)
    ]
    facts = normalise(resources, lexicon, {})

    assert [fact.reference for fact in facts] == [f"MedicationStatement/s{i}" for i in range(1000)]
    assert all(fact.daily_mg == {"clonazepam": 20.0} for fact in facts)


def test_sourced_records_are_named_tuples_carrying_each_resource_with_its_origin_and_key():
    resources = [{"resourceType": "MedicationStatement", "id": "a"}, {"id": "b"}]
    records = sourced_records(resources, Origin.FHIR_SERVER, "medicationStatements")
    assert records == [
        SourcedResource(resources[0], Origin.FHIR_SERVER, "medicationStatements"),
        SourcedResource(resources[1], Origin.FHIR_SERVER, "medicationStatements"),
    ]
    assert all(type(record) is SourcedResource for record in records)
    assert records[1].resource is resources[1]
    assert records[0].source_key == "medicationStatements"
