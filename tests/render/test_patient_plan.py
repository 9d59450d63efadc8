"""The patient's plan: plain words, the clinic's zone, weekday and date, only what applies."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import textstat

from cds_service.clinical import medications as meds
from cds_service.clinical.types import InfusionSession, InfusionStart, KetamineOrder
from cds_service.render.patient import PatientPlan, patient_plan
from cds_service.rules.engine import evaluate
from cds_service.rules.holds import retimed
from tests.pipeline import compiled, knowledge_base, lexicon, sourced

CHICAGO = ZoneInfo("America/Chicago")
START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 09:00 CST on Tuesday 1 December
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# Words from the clinician's card that a patient should never have to read.
JARGON = (
    "diazepam-equivalent",
    "grade",
    "benzodiazepine",
    "taper",
    "washout",
    "prn",
    "mg/day",
    "clinically",
    "attenuat",
    "prescriber",
)


def _statement(sid: str, code: str, text: str, *, prn: bool = False, daily: int = 2) -> dict:
    dosage: dict = {"timing": {"repeat": {"frequency": daily, "period": 1, "periodUnit": "d"}}}
    if prn:
        dosage["asNeededBoolean"] = True
    return {
        "resourceType": "MedicationStatement",
        "id": sid,
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": code}],
            "text": text,
        },
        "dosage": [dosage],
        "effectivePeriod": {"start": "2026-01-10"},
    }


CLONAZEPAM = _statement("ms-1", "2598", "Klonopin 0.5 MG Oral Tablet")
LAMOTRIGINE = _statement("ms-2", "28439", "Lamictal 100 MG Oral Tablet", daily=1)
OXYCODONE_PRN = _statement("ms-3", "7804", "oxycodone 5 MG Oral Tablet", prn=True)
PHENELZINE = _statement("ms-4", "8123", "phenelzine 15 MG Oral Tablet")


def _plan(
    *resources: dict,
    sessions: tuple[InfusionSession, ...] | None = None,
    now: datetime = NOW,
) -> PatientPlan:
    sessions = sessions or (InfusionSession("Appointment/a1", InfusionStart.instant(START)),)
    order = KetamineOrder("Appointment/a1", "Appointment", "ketamine", {}, sessions[0].start)
    records, medications = sourced(resources)
    facts = meds.normalise(records, lexicon(), medications)
    evaluation = evaluate(compiled(), facts, order, hook="order-sign", now=now)
    evaluation = retimed(evaluation, sessions[0])
    words = knowledge_base().patient
    assert words is not None
    return patient_plan(words, evaluation.findings, sessions, now, CHICAGO)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;])\s+|\n+", text) if s.strip()]


def test_plan_for_clonazepam_twice_daily_reads_as_the_clinic_would_say_it() -> None:
    text = _plan(CLONAZEPAM).text()
    assert (
        "Take your last dose of clonazepam (Klonopin) no later than 9:00 pm on Monday 30 November. "
        "Take it again after 1:00 pm on Tuesday 1 December, once you feel fully awake. "
        "Keep taking it as usual on other days; do not stop it."
    ) in text
    assert "Your infusion is at 9:00 am on Tuesday 1 December." in text
    assert "All times are clinic time (CST)." in text


def test_plan_names_the_brand_the_record_names() -> None:
    text = _plan(LAMOTRIGINE).text()
    assert "lamotrigine (Lamictal)" in text
    assert "Skip no more than this one dose." in text


def test_plan_names_no_brand_the_record_does_not_name() -> None:
    text = _plan(OXYCODONE_PRN).text()
    assert "If you take oxycodone only when you need it" in text
    assert "OxyContin" not in text


def test_plan_names_a_misspelt_entry_as_written_and_asks_to_check_it() -> None:
    klonipin = {
        "resourceType": "MedicationStatement",
        "id": "ms-5",
        "status": "active",
        "medicationCodeableConcept": {"text": "Klonipin 1mg BID"},
        "effectivePeriod": {"start": "2026-01-10"},
    }
    text = _plan(klonipin).text()
    assert (
        'Take your last dose of "Klonipin 1mg BID" (we think this is clonazepam; please check with '
        "the care team) no later than"
    ) in text
    assert "Klonopin" not in text  # a brand the patient never named


def test_plan_always_asks_about_other_medicines_supplements_and_drugs() -> None:
    text = _plan(CLONAZEPAM).text()
    for word in ("supplement", "St John's wort", "alcohol", "cannabis", "street drug"):
        assert word in text


def test_plan_says_nothing_for_classes_without_a_hold() -> None:
    plan = _plan(PHENELZINE)
    assert not plan.holds_anything
    text = plan.text()
    assert "phenelzine" not in text.lower()
    assert "You do not need to change how you take your medicines" in text


def test_plan_for_an_as_needed_opioid_waits_only_the_extra_doses() -> None:
    text = _plan(OXYCODONE_PRN).text()
    assert "do not take it after 5:00 am on Tuesday 1 December" in text
    assert "Keep taking your regular doses as usual; do not stop them." in text


def test_plan_for_a_date_only_session_gives_no_clock_times() -> None:
    session = InfusionSession("Appointment/a1", InfusionStart(day=date(2026, 12, 3)))
    text = _plan(CLONAZEPAM, sessions=(session,)).text()
    assert "Your infusion is on Thursday 3 December. Ask the clinic what time it starts." in text
    assert "in the 12 hours before your infusion starts" in text
    assert not re.search(r"\d:\d\d", text)
    assert "clinic time" not in text


def test_plan_when_the_window_has_opened_says_take_no_more_and_tell_the_team() -> None:
    text = _plan(CLONAZEPAM, now=START - timedelta(hours=3)).text()
    assert "Do not take any more clonazepam (Klonopin) before your infusion." in text
    assert "Tell the care team when you last took it." in text
    assert "no later than" not in text


def test_plan_for_a_series_has_one_block_per_session() -> None:
    sessions = tuple(
        InfusionSession(f"Appointment/a{i}", InfusionStart.instant(START + timedelta(days=7 * i)))
        for i in range(3)
    )
    plan = _plan(CLONAZEPAM, sessions=sessions)
    assert [line for line, _ in plan.blocks()] == [
        "Your infusion is at 9:00 am on Tuesday 1 December.",
        "Your infusion is at 9:00 am on Tuesday 8 December.",
        "Your infusion is at 9:00 am on Tuesday 15 December.",
    ]
    only_second = plan.text(sessions={"Appointment/a1"})
    assert "8 December" in only_second
    assert "15 December" not in only_second
    assert plan.paragraph("Appointment/a2", "MedicationStatement/ms-1") is not None


PLANS = {
    "timed": lambda: _plan(CLONAZEPAM, LAMOTRIGINE, OXYCODONE_PRN),
    "date-only": lambda: _plan(
        CLONAZEPAM,
        LAMOTRIGINE,
        sessions=(InfusionSession("Appointment/a1", InfusionStart(day=date(2026, 12, 3))),),
    ),
    "opened": lambda: _plan(CLONAZEPAM, LAMOTRIGINE, now=START - timedelta(hours=2)),
    "nothing held": lambda: _plan(PHENELZINE),
}


@pytest.mark.parametrize("situation", sorted(PLANS))
def test_plan_reads_at_grade_8_or_lower(situation: str) -> None:
    # The title is a heading (no full stop): measured on its own, not run into the first sentence.
    plan = PLANS[situation]()
    body = plan.text(title=False)
    assert textstat.flesch_kincaid_grade(body) <= 8, body


@pytest.mark.parametrize("situation", sorted(PLANS))
def test_plan_has_no_clinician_jargon(situation: str) -> None:
    text = PLANS[situation]().text().lower()
    assert [word for word in JARGON if word in text] == []


@pytest.mark.parametrize("situation", sorted(PLANS))
def test_plan_never_says_stop_without_do_not(situation: str) -> None:
    for sentence in _sentences(PLANS[situation]().text()):
        if "stop" in sentence.lower():
            assert "do not" in sentence.lower(), sentence


def test_brand_words_longest_brand_first_read_once_per_class() -> None:
    from cds_service.render.patient import _brand_words

    before = _brand_words.cache_info().hits
    ordered = _brand_words(("Lamictal", "Lamictal XR", "Subvenite"))
    assert ordered[0][0] == "Lamictal XR"
    assert dict(ordered)["Lamictal XR"] == frozenset({"lamictal", "xr"})
    assert _brand_words(("Lamictal", "Lamictal XR", "Subvenite")) is ordered
    assert _brand_words.cache_info().hits == before + 1
