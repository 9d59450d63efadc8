"""The bounded JSON memo: one computation per distinct value, bounded, never wrong for a new value."""

from __future__ import annotations

from typing import Any

from cds_service.clinical import medications as meds
from cds_service.clinical.memo import JsonMemo
from cds_service.clinical.types import Origin, SourcedResource
from cds_service.rules.knowledge import compile_knowledge_base
from tests.clinical.lexicon_builders import built_lexicon

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def test_json_memo_computes_each_distinct_value_once() -> None:
    seen: list[Any] = []

    def count(value: Any) -> int:
        seen.append(value)
        return len(seen)

    memo = JsonMemo(count)
    assert memo({"a": 1}) == memo({"a": 1}) == 1
    assert memo({"a": 2}) == 2
    assert seen == [{"a": 1}, {"a": 2}]


def test_json_memo_when_full_starts_again_and_stays_bounded() -> None:
    memo = JsonMemo(lambda value: value["n"] * 10, size=3)
    answers = [memo({"n": n}) for n in range(7)]
    assert answers == [n * 10 for n in range(7)]
    assert len(memo) <= 3


def test_json_memo_of_a_value_that_is_not_json_computes_without_remembering() -> None:
    memo = JsonMemo(lambda value: "computed")
    assert memo({1: "int key"}) == "computed"
    assert len(memo) == 0


def _statement(concept: dict[str, Any], record_id: str) -> SourcedResource:
    resource = {
        "resourceType": "MedicationStatement",
        "id": record_id,
        "status": "active",
        "medicationCodeableConcept": concept,
    }
    return SourcedResource(
        resource=resource, origin=Origin.PREFETCH, source_key="medicationStatements"
    )


def test_normalise_with_memo_gives_the_same_facts_as_without() -> None:
    lexicon = built_lexicon()
    concepts: list[dict[str, Any]] = [
        {"coding": [{"system": RXNORM, "code": "2598", "display": "Clonazepam 0.5 MG"}]},
        {"text": "lorazepam 1 mg at night"},
        {"coding": [{"system": RXNORM, "code": "314076", "display": "Lisinopril 10 MG"}]},
    ]
    records = [_statement(c, f"s{i}-{n}") for n in range(3) for i, c in enumerate(concepts)]
    memo = meds.normalise_memo(lexicon)
    plain = meds.normalise(records, lexicon, {})
    assert meds.normalise(records, lexicon, {}, memo) == plain
    assert meds.normalise(records, lexicon, {}, memo) == plain  # answered from the memo
    assert len(memo.ingredients) == len(concepts)
    assert len(memo.products) == 2  # the two that name a known ingredient
    assert len(memo.kinds) == len(concepts)  # one look per distinct concept on the hot path
    assert {f.display for f in plain} >= {"Clonazepam 0.5 MG"}


def test_read_list_points_the_other_readers_at_the_uncoded_records_with_or_without_memo() -> None:
    lexicon = built_lexicon()
    concepts: list[dict[str, Any]] = [
        {"coding": [{"system": RXNORM, "code": "2598", "display": "Clonazepam 0.5 MG"}]},
        {"text": "Alcohol - 4 to 6 beers daily"},
        {"coding": [{"system": RXNORM, "code": "314076", "display": "Lisinopril 10 MG"}]},
        {"coding": [{"system": "urn:oid:1.2.3", "code": "99", "display": "Zorblax drops"}]},
    ]
    records = [_statement(c, f"s{i}-{n}") for n in range(2) for i, c in enumerate(concepts)]
    reasoned = dict(records[2].resource, reasonCode=[{"text": "blood pressure"}])
    records[2] = SourcedResource(reasoned, Origin.PREFETCH, "medicationStatements")
    memo = meds.normalise_memo(lexicon)
    plain = meds.read_list(records, lexicon, {})
    remembered = meds.read_list(records, lexicon, {}, memo)
    assert remembered == plain == meds.read_list(records, lexicon, {}, memo)
    # The free-text entry and the one coded only locally; never an RxNorm-coded record.
    assert plain.uncoded == (1, 3, 5, 7)
    assert plain.reasoned == (2,)
    assert plain.stats.read == len(records)


def test_normalise_with_memo_on_a_mixed_history_gives_the_same_facts_as_without() -> None:
    from cds_service.bench.payload import history
    from tests.pipeline import knowledge_base

    lexicon = compile_knowledge_base(knowledge_base()).lexicon
    statements, requests = history(300)
    topical = {**statements[3], "id": "topical", "dosage": [{"route": {"text": "topical"}}]}
    records = [
        SourcedResource(resource=r, origin=Origin.PREFETCH, source_key="k")
        for r in [*statements, *requests, topical]
    ]
    memo = meds.normalise_memo(lexicon)
    plain = meds.normalise(records, lexicon, {})
    assert meds.normalise(records, lexicon, {}, memo) == plain
    assert meds.normalise(records, lexicon, {}, memo) == plain
    assert len(plain) >= 15
    assert "topical" not in {fact.reference.split("/")[1] for fact in plain}
