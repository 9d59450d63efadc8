"""Wording shared by every detail form: sources in a clinician's words, clock times, link labels."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from cds_service.render.concise import advice_action
from cds_service.render.links import link_label
from cds_service.render.wording import clock, source_words, washout_text, zone
from tests.rule_builders import make_fact


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"reported": True}, "patient-reported"),
        ({"resource_type": "MedicationRequest", "status": "active"}, "active prescription"),
        ({"resource_type": "MedicationRequest", "status": "stopped"}, "stopped prescription"),
        ({"resource_type": "MedicationRequest", "status": ""}, "prescription"),
        ({}, "recorded medication"),
    ],
)
def test_source_words_say_where_a_record_came_from_as_a_clinician_would(changes, words) -> None:
    assert source_words(replace(make_fact(), **changes)) == words


def test_clock_names_the_zone_and_the_date_of_every_time() -> None:
    moment = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert clock(moment, UTC) == "02:00 UTC on 3 Dec"
    assert clock(moment, zone("America/New_York")) == "21:00 EST on 2 Dec"


@pytest.mark.parametrize(
    ("citation", "label"),
    [
        (
            "Andrashko V, et al. Front Psychiatry 2020;11:844 (benzodiazepine dose and ketamine response)",
            "Andrashko 2020: benzodiazepine dose and ketamine response",
        ),
        (
            "Noppers I, et al. Anesthesiology 2011 (rifampicin and IV S-ketamine)",
            "Noppers 2011: rifampicin and IV S-ketamine",
        ),
        (
            "Ketalar (ketamine hydrochloride injection) US prescribing information, section 7",
            "Ketalar US prescribing information",
        ),
        (
            "FDA Drug Safety Communication 2020-09-23, boxed warning updated for benzodiazepines",
            "FDA Drug Safety Communication 2020-09-23",
        ),
    ],
)
def test_link_label_is_short_and_names_the_source(citation: str, label: str) -> None:
    assert link_label(citation) == label


def test_washout_without_any_date_says_recently() -> None:
    fact = make_fact(status="stopped")
    assert washout_text(fact, None, None, 3) == "stopped recently (within the 3-day washout)"


@pytest.mark.parametrize(
    ("advice", "action"),
    [
        ("Together they add sedation: monitor SpO2 continuously.", "Monitor SpO2 continuously."),
        ("Monitor SpO2 continuously.", "Monitor SpO2 continuously."),
    ],
)
def test_combination_advice_keeps_what_to_do(advice: str, action: str) -> None:
    assert advice_action(advice) == action
