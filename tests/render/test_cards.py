"""Rendering: summaries naming the drugs, detail markdown, hold clock times, extension, ordering."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from itertools import count
from typing import Any
from uuid import UUID

import pytest

from cds_service.cdshooks.models import Card
from cds_service.clinical.types import DataGap, InfusionStart, KetamineOrder, MedicationFact
from cds_service.render.cards import CallContext, CardRenderer, RenderOptions
from cds_service.render.profiles import build_profiles
from cds_service.render.summary import truncate
from cds_service.render.wording import duration_words
from cds_service.rules.engine import evaluate
from cds_service.rules.knowledge import KnowledgeBase, compile_knowledge_base
from cds_service.rules.schema import RuleSpec
from tests.card_checks import assert_card_follows_spec
from tests.rule_builders import NOW, START, make_fact, make_kb, make_order, make_rule

CALL = CallContext(patient_id="p1", now=NOW)


def _options(kb: KnowledgeBase, **changes: Any) -> RenderOptions:
    ids = count(1)
    values = {"new_uuid": lambda: f"uuid-{next(ids)}"}
    return RenderOptions.for_knowledge_base(kb, **(values | changes))


def _renderer(kb: KnowledgeBase, **options: Any) -> CardRenderer:
    return CardRenderer(compile_knowledge_base(kb), _options(kb, **options))


def _cards(
    facts: list[MedicationFact],
    *rules: RuleSpec,
    order: KetamineOrder | None = None,
    gaps: Sequence[DataGap] = (),
    **options: Any,
) -> list[Card]:
    kb = make_kb(*(rules or (make_rule(),)))
    order = order or make_order()
    compiled = compile_knowledge_base(kb)
    evaluation = evaluate(compiled, facts, order, hook="order-sign", now=NOW)
    profiles = build_profiles(
        selection_behavior=options.pop("selection_behavior", "at-most-one"),
        detail=options.pop("detail", None),
    )
    profile = profiles[options.pop("profile", "spec")]
    call = CallContext(patient_id="p1", now=options.pop("now", NOW), profile=profile)
    return CardRenderer(compiled, _options(kb, profiles=profiles, **options)).cards(
        evaluation, order, list(gaps), call
    )


def _recent(**fields: Any) -> MedicationFact:
    # Scheduled, low dose, started a few days ago: the default (hold) card, not the strong one.
    return make_fact(started=NOW - timedelta(days=3), **fields)


def test_render_single_drug_summary_names_drug_and_hours():
    (card,) = _cards([_recent(daily_mg=0.1)])
    assert card.summary == "Hold clonazepam 12 h before the ketamine infusion"
    assert_card_follows_spec(card)


def test_render_two_drugs_are_joined_with_and():
    (card,) = _cards(
        [_recent(daily_mg=0.1), _recent(ingredient="lorazepam", ident="2", daily_mg=0.1)]
    )
    assert card.summary.startswith("Hold clonazepam and lorazepam 12 h")


def test_render_three_drugs_show_plus_count():
    facts = [
        make_fact("clonazepam"),
        make_fact("lorazepam", ident="2"),
        make_fact("midazolam", ident="3"),
    ]
    (card,) = _cards(facts)
    assert "clonazepam, lorazepam +1" in card.summary


def test_render_long_summary_is_truncated_under_140():
    rule = make_rule(summary={"default": "Hold {drugs} " + "x" * 120})
    (card,) = _cards([make_fact(), make_fact("lorazepam", ident="2")], rule)
    assert len(card.summary) <= 139
    assert card.summary.startswith("Hold clonazepam")


def test_truncate_cuts_at_word_with_ellipsis():
    assert truncate("alpha beta gamma", 12) == "alpha beta…"
    assert truncate("short", 12) == "short"


def test_render_light_variant_uses_light_summary_and_info():
    (card,) = _cards([make_fact(as_needed=True, daily_mg=0.25)])
    assert card.summary.startswith("As-needed clonazepam: skip doses 12 h")
    assert card.indicator == "info"


def test_render_strong_variant_says_do_not_stop_prominently():
    (card,) = _cards([make_fact(daily_mg=1, started=NOW - timedelta(days=60))], detail="full")
    assert "do not stop abruptly" in card.summary
    assert card.detail is not None
    important = card.detail.index("> **Important:** Do not stop a regularly taken")
    assert important < card.detail.index("Recommendation")
    assert "Diazepam-equivalent about 20 mg/day" in card.detail
    assert "taken for about 2 months" in card.detail


def test_render_concise_strong_variant_keeps_dose_duration_and_do_not_stop():
    (card,) = _cards([make_fact(daily_mg=1, started=NOW - timedelta(days=60))])
    detail = card.detail or ""
    assert "**clonazepam 0.5 MG Oral Tablet**: 0.5 mg twice daily" in detail
    assert "for about 2 months" in detail
    assert "Diazepam-equivalent: about 20 mg/day (above the 8 mg/day" in detail
    assert "**Important:** Do not stop a regularly taken benzodiazepine abruptly." in detail
    assert "_Evidence grade C (observational data); advisory only._" in detail


@pytest.mark.parametrize("detail", ["concise", "full"])
def test_render_unknown_dose_says_not_estimated(detail):
    (card,) = _cards([make_fact()], detail=detail)
    assert "not estimated" in (card.detail or "")


def test_render_full_detail_lists_source_in_clinician_words():
    (card,) = _cards([make_fact(reported=True, display="Klonopin 0.5mg")], detail="full")
    detail = card.detail or ""
    assert "| Klonopin 0.5mg | not recorded | no | active | patient-reported |" in detail
    assert "prefetch" not in detail
    assert "MedicationStatement/1" not in detail


@pytest.mark.parametrize("detail", ["brief", "concise", "full"])
def test_render_no_detail_form_writes_markdown_links(detail):
    (card,) = _cards([make_fact(daily_mg=1)], detail=detail)
    assert "](" not in (card.detail or "")
    assert "https://" not in (card.detail or "")
    assert card.links


def test_render_washout_record_is_counted_back_from_the_infusion_start():
    (card,) = _cards([make_fact(status="stopped", ended=NOW - timedelta(days=2))])
    assert "stopped 2 days before the infusion on 27 Nov (within the 3-day washout)" in (
        card.detail or ""
    )
    assert card.summary == "Recently stopped clonazepam may still interact with ketamine: review"
    assert card.extension is None  # no hold for a medication already stopped


def test_render_washout_without_start_says_days_ago():
    facts = [make_fact(status="stopped", ended=NOW - timedelta(days=2))]
    (card,) = _cards(facts, order=make_order(start=None))
    assert "stopped 2 days ago (within the 3-day washout)" in (card.detail or "")


def test_render_hold_with_start_uses_clock_times_in_site_zone():
    (card,) = _cards([make_fact()], timezone="Europe/Prague")
    detail = card.detail or ""
    assert (
        "No clonazepam from 22:00 CET on 26 Nov (12 h before the start, 10:00 CET on 27 Nov)"
        in detail
    )
    assert "resume after 14:00 CET on 27 Nov" in detail
    assert card.extension is not None
    (window,) = card.extension["ketamineCds.holdWindows"]
    assert window == {
        "medication": "clonazepam 0.5 MG Oral Tablet",
        "reference": "MedicationStatement/1",
        "holdFrom": "2026-11-26T22:00:00+01:00",
        "resumeAfter": "2026-11-27T14:00:00+01:00",
    }


def test_render_unknown_zone_falls_back_to_utc():
    (card,) = _cards([make_fact()], timezone="Mars/Olympus")
    assert "No clonazepam from 21:00 UTC on 26 Nov" in (card.detail or "")


def test_render_utc_start_without_site_zone_names_utc_and_the_date_on_every_clock_time():
    (card,) = _cards([make_fact()])
    detail = card.detail or ""
    assert "from 21:00 UTC on 26 Nov" in detail
    assert "the start, 09:00 UTC on 27 Nov" in detail
    assert "resume after 13:00 UTC on 27 Nov" in detail


@pytest.mark.parametrize("detail", ["brief", "concise", "full"])
def test_render_date_only_start_never_gives_clock_times(detail):
    start = InfusionStart(day=date(2026, 12, 3))
    (card,) = _cards([make_fact()], order=make_order(start=start), detail=detail)
    text = card.detail or ""
    assert "Infusion on 3 Dec, start time not given: no dose of clonazepam within 12 h" in text
    assert re.search(r"\d{2}:\d{2}", text) is None
    assert card.extension is None


def test_render_hold_without_start_is_relative_and_has_no_extension():
    (card,) = _cards([make_fact()], order=make_order(start=None))
    assert "no dose of clonazepam within 12 h before the infusion start" in (card.detail or "")
    assert card.extension is None


@pytest.mark.parametrize("start", [START, None], ids=["clock", "relative"])
def test_render_hold_without_resume_hours_says_resume_once_recovered(start):
    rule = make_rule(hold={"before_hours": 12, "resume_after_hours": None})
    (card,) = _cards([make_fact()], rule, order=make_order(start=start))
    detail = card.detail or ""
    assert "resume once recovered" in detail
    assert "start, once recovered" not in detail  # the hold itself does not wait for recovery


def test_render_card_carries_source_topic_override_reasons_and_links():
    (card,) = _cards([make_fact()])
    assert card.source.topic is not None
    assert (card.source.topic.system, card.source.topic.code) == ("http://example.org/topic", "BZD")
    assert [r.system for r in card.overrideReasons or []] == ["http://example.org/override"]
    assert [(link.label, link.url) for link in card.links or []] == [
        ("Andrashko 2020", "https://doi.org/10.3389/fpsyt.2020.00844"),
        ("Diazepam-equivalent table", "https://www.benzo.org.uk/manual/bzcha01.htm"),
    ]
    assert card.uuid == "uuid-1"


@pytest.mark.parametrize("behavior", ["at-most-one", "any"])
def test_render_suggestions_carry_configured_selection_behavior(behavior):
    (card,) = _cards([make_fact()], selection_behavior=behavior)
    assert card.selectionBehavior == behavior
    assert card.suggestions is not None
    assert card.suggestions[0].actions[0].type == "update"


def test_render_no_suggestion_means_no_selection_behavior():
    (card,) = _cards([make_fact(status="stopped", ended=NOW)])  # no hold -> no update
    assert card.suggestions is None
    assert card.selectionBehavior is None


def test_render_at_most_one_keeps_a_single_recommended():
    suggestions = [
        {"kind": "order-bp-monitoring", "label": "Order BP", "is_recommended": True},
        {"kind": "order-spo2-monitoring", "label": "Order SpO2", "is_recommended": True},
    ]
    (card,) = _cards([_recent()], make_rule(suggestions=suggestions))
    assert [s.isRecommended for s in card.suggestions or []] == [True, None]
    assert_card_follows_spec(card)


def test_render_cards_sorted_critical_first():
    info = make_rule("THYROID", members=[{"name": "levothyroxine"}], indicator={"default": "info"})
    critical = make_rule(
        "XANTHINE", members=[{"name": "theophylline"}], indicator={"default": "critical"}
    )
    facts = [make_fact("levothyroxine"), make_fact("theophylline", ident="2"), make_fact(ident="3")]
    cards = _cards(facts, info, make_rule(), critical)
    assert [card.indicator for card in cards] == ["critical", "warning", "info"]


def test_render_gaps_add_data_gap_card_naming_what_was_missed():
    gap = DataGap("MedicationRequest list", "FHIR server timed out")
    cards = _cards([], gaps=[gap])
    (card,) = cards
    assert card.source.topic is not None
    assert card.source.topic.code == "DATAGAP"
    assert "MedicationRequest list" in (card.detail or "")
    assert "may be incomplete" in (card.detail or "")
    assert_card_follows_spec(card)


def test_render_data_gap_card_uses_kb_rule_when_present():
    gap_rule = make_rule(
        "DATAGAP",
        kind="data-gap",
        members=[],
        indicator={"default": "info"},
        summary={"default": "Medication list incomplete: interactions may be missed"},
    )
    kb = make_kb(gap_rule)
    card = _renderer(kb).data_gap_card([DataGap("MedicationStatement list", "412")])
    assert (card.summary, card.indicator) == (
        "Medication list incomplete: interactions may be missed",
        "info",
    )
    assert "MedicationStatement list" in (card.detail or "")
    assert_card_follows_spec(card)


def test_render_site_without_hold_uses_review_summary():
    (card,) = _cards([_recent()], make_rule(hold=None))
    assert card.summary.startswith("Review clonazepam before the ketamine infusion")


def test_render_as_needed_only_hold_still_names_hours_for_regular_user():
    rule = make_rule(
        hold={"before_hours": 4, "applies_to": "as-needed"},
        summary={"default": "{drugs}: continue; avoid extra doses {hold_hours} h before ketamine"},
    )
    (card,) = _cards([make_fact()], rule)
    assert card.summary == "Clonazepam: continue; avoid extra doses 4 h before ketamine"
    assert card.extension is None


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (1, "1 day"),
        (5, "5 days"),
        (21, "3 weeks"),
        (20, "about 3 weeks"),
        (60, "about 2 months"),
        (549, "about 18 months"),
        (3000, "about 8 years"),
    ],
)
def test_duration_words_say_durations_as_people_do(days, words):
    assert duration_words(days) == words


def test_render_duration_is_measured_to_the_infusion_start():
    start = make_order(start=NOW + timedelta(days=30))
    (card,) = _cards([make_fact(started=NOW - timedelta(days=30))], order=start)
    assert "for about 2 months" in (card.detail or "")


def test_render_washout_without_now_or_start_gives_stop_date():
    facts = [make_fact(status="stopped", ended=NOW - timedelta(days=2))]
    (card,) = _cards(facts, now=None, order=make_order(start=None))
    stopped = NOW - timedelta(days=2)
    assert f"stopped on {stopped.day} {stopped:%b} (within the 3-day washout)" in (
        card.detail or ""
    )


@pytest.mark.parametrize(
    ("detail", "row"), [("full", "| combo pill |"), ("concise", "**combo pill**")]
)
def test_render_combination_product_is_listed_once(detail, row):
    fact = make_fact()
    combo = replace(fact, ingredients=frozenset({"clonazepam", "lorazepam"}), display="combo pill")
    (card,) = _cards([combo], detail=detail)
    assert (card.detail or "").count(row) == 1
    assert "clonazepam and lorazepam" in card.summary


def test_render_naive_stop_date_is_read_as_utc():
    naive = (NOW - timedelta(days=1)).replace(tzinfo=None)
    facts = [make_fact(status="completed", ended=naive)]
    (card,) = _cards(facts, order=make_order(start=None))
    assert "stopped 1 day ago" in (card.detail or "")


def test_render_options_default_uuid_is_random_uuid4():
    kb = make_kb(make_rule())
    options = RenderOptions.for_knowledge_base(kb)
    first, second = options.new_uuid(), options.new_uuid()
    assert first != second
    assert UUID(first).version == 4


def test_render_member_note_is_shown_once():
    members = [{"name": "clonazepam", "note": "Never hold when given for seizures."}]
    facts = [make_fact(), make_fact(ident="2")]
    (card,) = _cards(facts, make_rule(members=members))
    assert (card.detail or "").count("**clonazepam**: Never hold when given for seizures.") == 1


def test_render_concise_lists_three_records_and_counts_the_rest():
    facts = [make_fact(ident=str(n)) for n in range(5)]
    (card,) = _cards(facts)
    assert (card.detail or "").count("**clonazepam 0.5 MG Oral Tablet**") == 3
    assert "+2 more records of this class." in (card.detail or "")


@pytest.mark.parametrize(("detail", "shown"), [("concise", False), ("full", True)])
def test_render_data_gap_card_gives_the_rule_recommendation_only_in_full(detail, shown):
    gap_rule = make_rule(
        "DATAGAP", kind="data-gap", members=[], recommendation="Review by hand now."
    )
    profile = build_profiles(detail=detail)["spec"]
    card = _renderer(make_kb(gap_rule)).data_gap_card(
        [DataGap("MedicationStatement list", "412")], profile
    )
    assert ("Review by hand now." in (card.detail or "")) is shown
