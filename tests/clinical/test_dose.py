"""Daily dose in mg, PRN and readable dose text, computed only when the dosage is coded well enough."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.lexicon import Lexicon
from cds_service.clinical.medications import normalise
from cds_service.clinical.types import MedicationFact, Origin, SourcedResource
from tests.clinical.lexicon_builders import built_lexicon

BID = {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}


@pytest.fixture
def lexicon() -> Lexicon:
    return built_lexicon()


def fact_with(
    lexicon: Lexicon, dosages: Any, product: str = "Clonazepam 0.5 MG Oral Tablet"
) -> MedicationFact:
    resource = {
        "resourceType": "MedicationRequest",
        "id": "r1",
        "status": "active",
        "medicationCodeableConcept": {"text": product},
        "dosageInstruction": dosages,
    }
    item = SourcedResource(
        resource=resource, origin=Origin.PREFETCH, source_key="medicationRequests"
    )
    return normalise([item], lexicon, {})[0]


def dose(value: float, unit: str = "mg", timing: Any = None, **extra: Any) -> dict[str, Any]:
    quantity = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    return {"timing": timing or BID, "doseAndRate": [{"doseQuantity": quantity}], **extra}


def test_daily_mg_when_mg_dose_twice_daily_multiplies(lexicon: Lexicon) -> None:
    fact = fact_with(lexicon, [dose(0.5)])
    assert fact.daily_mg == {"clonazepam": 1.0}
    assert fact.dose_text == "0.5 mg twice daily"


def test_daily_mg_when_tablet_count_uses_product_strength(lexicon: Lexicon) -> None:
    fact = fact_with(lexicon, [dose(2, "{pill}")], "Clonazepam 0.5 MG Oral Tablet [Klonopin]")
    assert fact.daily_mg == {"clonazepam": 2.0}


def test_daily_mg_when_pack_name_reads_inner_strength(lexicon: Lexicon) -> None:
    fact = fact_with(lexicon, [dose(1, "{tbl}")], "{7 (Alprazolam 0.25 MG Oral Tablet) } Pack")
    assert fact.daily_mg == {"alprazolam": 0.5}


def test_daily_mg_when_frequency_zero_is_unknown_not_a_crash(lexicon: Lexicon) -> None:
    timing = {"repeat": {"frequency": 0, "period": 1, "periodUnit": "d"}}
    fact = fact_with(lexicon, [dose(0.5, timing=timing)])
    assert fact.daily_mg == {}
    assert fact.dose_text == "0.5 mg"


def test_daily_mg_when_microgram_dose_converts(lexicon: Lexicon) -> None:
    assert fact_with(lexicon, [dose(250, "mcg")]).daily_mg == {"clonazepam": 0.5}


def test_daily_mg_when_stu3_dose_quantity_and_dose_range_reads_them(lexicon: Lexicon) -> None:
    stu3 = {"timing": BID, "doseQuantity": {"value": 1, "unit": "milligram"}}
    ranged = {"timing": BID, "doseAndRate": [{"doseRange": {"low": {"value": 1, "code": "mg"},
                                                            "high": {"value": 2, "code": "mg"}}}]}  # fmt: skip
    assert fact_with(lexicon, [stu3]).daily_mg == {"clonazepam": 2.0}
    assert fact_with(lexicon, [ranged]).daily_mg == {"clonazepam": 4.0}


@pytest.mark.parametrize(
    ("timing", "per_day"),
    [
        ({"repeat": {"frequency": 1, "period": 8, "periodUnit": "h"}}, 3.0),
        ({"repeat": {"period": 12, "periodUnit": "h"}}, 2.0),
        ({"repeat": {"frequency": 3, "period": 1, "periodUnit": "wk"}}, 3 / 7),
        ({"repeat": {"frequency": 2, "frequencyMax": 4, "period": 1, "periodUnit": "d"}}, 2.0),
        ({"repeat": {"frequency": 1, "period": 1, "periodUnits": "d"}}, 1.0),
        ({"repeat": {"timeOfDay": ["08:00:00", "20:00:00"]}}, 2.0),
        ({"code": {"coding": [{"code": "TID"}]}}, 3.0),
        ({"code": {"coding": [{"code": "Q6H"}]}}, 4.0),
        ({"code": {"text": "qid"}}, 4.0),
    ],
)
def test_daily_mg_when_timing_forms_counts_administrations(
    lexicon: Lexicon, timing: dict[str, Any], per_day: float
) -> None:
    fact = fact_with(lexicon, [dose(1, timing=timing)])
    assert fact.daily_mg["clonazepam"] == pytest.approx(per_day, abs=1e-3)


def test_daily_mg_when_split_dosages_sums_them(lexicon: Lexicon) -> None:
    morning = dose(0.5, timing={"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}})
    night = dose(1, timing={"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}})
    assert fact_with(lexicon, [morning, night]).daily_mg == {"clonazepam": 1.5}


@pytest.mark.parametrize(
    "dosages",
    [
        [{"text": "take as directed"}],
        [dose(1, "mL")],
        [dose(1, "{pill}")],  # no strength in the product name below
        [dose(0.5, timing={"repeat": {"when": []}})],
        [dose(0.5), {"text": "extra at night"}],
        [],
    ],
)
def test_daily_mg_when_dose_unknown_leaves_it_out(lexicon: Lexicon, dosages: Any) -> None:
    assert fact_with(lexicon, dosages, "Clonazepam oral tablet").daily_mg == {}


def test_daily_mg_when_combination_product_leaves_it_out(lexicon: Lexicon) -> None:
    product = "amphetamine aspartate 5 MG / dextroamphetamine sulfate 5 MG Oral Tablet"
    assert fact_with(lexicon, [dose(1, "{tbl}")], product).daily_mg == {}


def test_daily_mg_when_one_member_and_two_strengths_leaves_it_out(lexicon: Lexicon) -> None:
    product = "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet"
    assert fact_with(lexicon, [dose(1, "{tbl}")], product).daily_mg == {}


def test_as_needed_when_boolean_or_reason_is_prn(lexicon: Lexicon) -> None:
    assert fact_with(lexicon, [dose(0.5, asNeededBoolean=True)]).as_needed
    assert fact_with(lexicon, [dose(0.5, asNeededCodeableConcept={"text": "anxiety"})]).as_needed
    assert not fact_with(lexicon, [dose(0.5, asNeededBoolean=False)]).as_needed


@pytest.mark.parametrize(
    ("text", "as_needed"),
    [
        ("0.5 mg PRN anxiety", True),
        ("1 tab as needed for sleep", True),
        ("1 tablet p.r.n. panic", True),
        ("0.5 mg twice daily", False),
        ("twice daily, needed for sleep", False),
    ],
)
def test_as_needed_when_only_the_dosage_text_says_it(
    lexicon: Lexicon, text: str, as_needed: bool
) -> None:
    assert fact_with(lexicon, [{"text": text}]).as_needed is as_needed


def test_daily_mg_when_prn_with_max_dose_per_period_keeps_the_maximum_apart(
    lexicon: Lexicon,
) -> None:
    # As needed: the usual figure is one dose; the maximum is said as a maximum, never as the dose.
    maximum = {"numerator": {"value": 3, "code": "mg"}, "denominator": {"value": 1, "code": "d"}}
    fact = fact_with(lexicon, [dose(0.5, asNeededBoolean=True, maxDosePerPeriod=maximum)])
    assert fact.daily_mg == {"clonazepam": 0.5}
    assert fact.max_daily_mg == {"clonazepam": 3.0}
    assert fact.dose_text == "0.5 mg twice daily as needed"


def test_daily_mg_when_prn_max_per_period_in_tablets_uses_strength(lexicon: Lexicon) -> None:
    maximum = {
        "numerator": {"value": 4, "code": "{tbl}"},
        "denominator": {"value": 24, "code": "h"},
    }
    fact = fact_with(lexicon, [dose(1, "{tbl}", asNeededBoolean=True, maxDosePerPeriod=maximum)])
    assert fact.daily_mg == {"clonazepam": 0.5}
    assert fact.max_daily_mg == {"clonazepam": 2.0}


def test_daily_mg_when_prn_without_frequency_or_maximum_is_one_dose(lexicon: Lexicon) -> None:
    prn = {"asNeededBoolean": True, "doseAndRate": [{"doseQuantity": {"value": 0.5, "code": "mg"}}]}
    fact = fact_with(lexicon, [prn])
    assert fact.daily_mg == {"clonazepam": 0.5}
    assert fact.max_daily_mg == {}
    assert fact.dose_text == "0.5 mg as needed"


@pytest.mark.parametrize(
    ("timing", "words"),
    [
        ({"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}, "once daily"),
        ({"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}}, "three times daily"),
        ({"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}}, "every 6 hours"),
        ({"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}}, "once weekly"),
        ({"repeat": {"frequency": 1, "period": 2, "periodUnit": "d"}}, "every other day"),
        ({"repeat": {"frequency": 5, "period": 1, "periodUnit": "d"}}, "5 times daily"),
        ({"repeat": {"frequency": 1, "period": 3, "periodUnit": "d"}}, "every 3 days"),
        ({"repeat": {"frequency": 1, "period": 72, "periodUnit": "h"}}, "every 72 hours"),
        ({"repeat": {"frequency": 1, "period": 15, "periodUnit": "min"}}, "every 15 minutes"),
    ],
)
def test_dose_text_when_frequency_known_reads_naturally(
    lexicon: Lexicon, timing: dict[str, Any], words: str
) -> None:
    assert fact_with(lexicon, [dose(1, timing=timing)]).dose_text == f"1 mg {words}"


def test_dose_text_when_sandbox_pill_without_unit_text_strips_braces(lexicon: Lexicon) -> None:
    sandbox = {
        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": {"value": 1, "system": "http://unitsofmeasure.org",
                                          "code": "{pill}"}}],
    }  # fmt: skip
    fact = fact_with(lexicon, [sandbox])
    assert fact.dose_text == "1 pill once daily"
    assert fact.daily_mg == {"clonazepam": 0.5}


def test_dose_text_when_not_coded_falls_back_to_dosage_text(lexicon: Lexicon) -> None:
    assert fact_with(lexicon, [{"text": "1 tab at bedtime"}]).dose_text == "1 tab at bedtime"
    assert fact_with(lexicon, []).dose_text is None


def test_max_daily_mg_when_prn_up_to_twice_daily_is_dose_times_frequency(lexicon: Lexicon) -> None:
    timing = {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}
    fact = fact_with(lexicon, [dose(0.5, timing=timing, asNeededBoolean=True)])
    assert (fact.daily_mg, fact.max_daily_mg) == ({"clonazepam": 0.5}, {"clonazepam": 1.0})


def test_rate_when_patch_names_mcg_per_hour_reads_it(lexicon: Lexicon) -> None:
    fact = fact_with(lexicon, [dose(1, "{patch}")], "clonazepam 25 MCG/HR Transdermal System")
    assert fact.rate_mcg_per_hour == 25.0
    assert fact_with(lexicon, [dose(0.5)]).rate_mcg_per_hour is None
