"""Holds across sessions on the cards: a series lists its windows, an opened window says so."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from itertools import count

from cds_service.cdshooks.models import Card
from cds_service.clinical.types import InfusionSession, InfusionStart, KetamineOrder
from cds_service.render.cards import HOLD_WINDOWS_KEY, CallContext, CardRenderer, RenderOptions
from cds_service.rules.engine import evaluate
from cds_service.rules.holds import retimed
from cds_service.rules.knowledge import compile_knowledge_base
from tests.card_checks import assert_card_follows_spec
from tests.rule_builders import NOW, START, make_fact, make_kb, make_order, make_rule


def _series(count_: int, first: datetime = START) -> KetamineOrder:
    sessions = tuple(
        InfusionSession(
            f"Appointment/s{i}",
            InfusionStart.instant(first + timedelta(days=7 * i)),
            first + timedelta(days=7 * i, hours=1),
        )
        for i in range(count_)
    )
    base = make_order(start=first)
    return replace(base, reference="Appointment/s0", resource_type="Appointment", sessions=sessions)


def _card(order: KetamineOrder, now: datetime = NOW, days_taken: int = 3) -> Card:
    kb = make_kb(make_rule())
    compiled = compile_knowledge_base(kb)
    facts = [make_fact(started=NOW - timedelta(days=days_taken), daily_mg=0.1)]
    evaluation = retimed(
        evaluate(compiled, facts, order, hook="order-sign", now=now), order.moments[0]
    )
    ids = count(1)
    options = RenderOptions.for_knowledge_base(kb, new_uuid=lambda: f"u{next(ids)}")
    (card,) = CardRenderer(compiled, options).cards(
        evaluation, order, [], CallContext(patient_id="p1", now=now)
    )
    assert_card_follows_spec(card)
    return card


def test_series_of_three_lists_three_windows_with_resume_after_each_end() -> None:
    detail = _card(_series(3)).detail or ""
    assert "no clonazepam within 12 h before each session:" in detail
    assert (
        "- 09:00 UTC on 27 Nov: from 21:00 UTC on 26 Nov; resume after 14:00 UTC on 27 Nov"
        in detail
    )
    assert "- 09:00 UTC on 4 Dec: from 21:00 UTC on 3 Dec" in detail
    assert "- 09:00 UTC on 11 Dec: from 21:00 UTC on 10 Dec" in detail
    assert "more session" not in detail


def test_series_longer_than_the_cap_says_how_many_more() -> None:
    detail = _card(_series(5)).detail or ""
    assert "09:00 UTC on 11 Dec" in detail
    assert "18 Dec" not in detail
    assert "- +2 more sessions (same hold before each)" in detail


def test_series_extension_names_each_appointment() -> None:
    windows = (_card(_series(3)).extension or {})[HOLD_WINDOWS_KEY]
    assert [w["appointment"] for w in windows] == [f"Appointment/s{i}" for i in range(3)]
    assert windows[0]["resumeAfter"] == "2026-11-27T14:00:00+00:00"


def test_opened_window_says_so_and_asks_when_last_taken() -> None:
    card = _card(make_order(), now=START - timedelta(hours=2))
    assert (
        card.summary == "Clonazepam hold window already open: confirm the last dose before ketamine"
    )
    detail = card.detail or ""
    assert (
        "Hold window already open: it began at 21:00 UTC on 26 Nov, 12 h before the start" in detail
    )
    assert "Confirm when clonazepam was last taken; resume after 13:00 UTC on 27 Nov" in detail
    assert "No clonazepam from" not in detail
    assert (card.extension or {})[HOLD_WINDOWS_KEY][0]["alreadyOpen"] is True


def test_opened_window_keeps_a_strong_summary() -> None:
    # Regular daily use: the summary is review, never stop; the detail still says the window opened.
    card = _card(make_order(), now=START - timedelta(hours=2), days_taken=60)
    assert card.summary == "Regular clonazepam may blunt ketamine: review; do not stop abruptly"
    assert "Hold window already open" in (card.detail or "")


def test_opened_window_on_a_date_only_start_is_said_without_clock_times() -> None:
    order = make_order(start=InfusionStart(day=START.date()))
    detail = _card(order, now=START - timedelta(hours=3)).detail or ""
    assert (
        "Infusion on 27 Nov, start time not given: the 12 h hold may already have begun" in detail
    )
    assert "resume 4 h after it starts" in detail


def test_series_first_session_opened_is_marked_in_its_line() -> None:
    detail = _card(_series(2), now=START - timedelta(hours=1)).detail or ""
    assert "- 09:00 UTC on 27 Nov: already open since 21:00 UTC on 26 Nov; confirm when" in detail
    assert "- 09:00 UTC on 4 Dec: from 21:00 UTC on 3 Dec" in detail


def test_window_not_yet_open_keeps_the_hold_wording() -> None:
    card = _card(make_order())
    assert card.summary.startswith("Hold clonazepam 12 h")
    assert "No clonazepam from 21:00 UTC on 26 Nov" in (card.detail or "")


def test_holds_of_is_worked_out_once_per_response_and_never_for_another_finding() -> None:
    from datetime import UTC

    from cds_service.render.sessions import holds_of
    from cds_service.render.wording import CardTime

    order = _series(2)
    compiled = compile_knowledge_base(make_kb(make_rule()))
    facts = [make_fact(started=NOW - timedelta(days=3), daily_mg=0.1)]
    (finding,) = evaluate(compiled, facts, order, hook="order-sign", now=NOW).findings
    time = CardTime(order.start, NOW, UTC, order.moments)
    first = holds_of(finding, time)
    assert len(first) == 2
    assert holds_of(finding, time) is first  # the detail, summary, extension and plan share it
    # Another finding (here one held 24 h) gets its own holds, never the remembered ones.
    assert finding.hold is not None
    other = replace(finding, hold=replace(finding.hold, before_hours=24))
    again = holds_of(other, time)
    assert again is not first
    assert [h.window.before_hours for h in again] == [24, 24]


def test_holds_of_on_a_card_time_made_with_replace_works_them_out_afresh() -> None:
    from datetime import UTC

    from cds_service.render.sessions import holds_of
    from cds_service.render.wording import CardTime

    order = _series(2)
    compiled = compile_knowledge_base(make_kb(make_rule()))
    facts = [make_fact(started=NOW - timedelta(days=3), daily_mg=0.1)]
    (finding,) = evaluate(compiled, facts, order, hook="order-sign", now=NOW).findings
    early = CardTime(order.start, START - timedelta(days=2), UTC, order.moments)
    assert [h.opened for h in holds_of(finding, early)] == [False, False]
    # Inside the first window: that session's hold has opened, whatever the earlier time said.
    inside = replace(early, now=START - timedelta(hours=1))
    assert [h.opened for h in holds_of(finding, inside)] == [True, False]
