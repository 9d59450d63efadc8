"""Hold windows per session: the engine's hours placed on each session's start and end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from cds_service.clinical.types import InfusionSession, InfusionStart
from cds_service.rules.engine import evaluate
from cds_service.rules.findings import HoldWindow
from cds_service.rules.holds import has_opened, placed, retimed, session_holds
from cds_service.rules.knowledge import compile_knowledge_base
from tests.rule_builders import NOW, START, make_fact, make_kb, make_order, make_rule

HOLD = HoldWindow(before_hours=12, resume_after_hours=4, hold_from=None, resume_after=None)


def _session(start: datetime | None, end: datetime | None = None) -> InfusionSession:
    return InfusionSession("Appointment/a1", InfusionStart.instant(start) if start else None, end)


def test_placed_counts_back_from_the_start_and_resumes_after_the_end() -> None:
    window = placed(HOLD, _session(START, START + timedelta(hours=2)))
    assert window.hold_from == START - timedelta(hours=12)
    assert window.resume_after == START + timedelta(hours=6)


def test_placed_without_an_end_resumes_after_the_start() -> None:
    assert placed(HOLD, _session(START)).resume_after == START + timedelta(hours=4)


def test_placed_ignores_an_end_before_the_start() -> None:
    window = placed(HOLD, _session(START, START - timedelta(hours=1)))
    assert window.resume_after == START + timedelta(hours=4)


def test_placed_on_a_date_only_start_has_no_clock_times() -> None:
    session = InfusionSession("Appointment/a1", InfusionStart(day=date(2026, 12, 3)))
    window = placed(replace_times(HOLD), session)
    assert (window.hold_from, window.resume_after) == (None, None)


def replace_times(hold: HoldWindow) -> HoldWindow:
    return HoldWindow(12, 4, hold_from=START, resume_after=START)


def test_has_opened_between_the_hold_start_and_the_infusion() -> None:
    session = _session(START)
    window = placed(HOLD, session)
    assert not has_opened(window, session, START - timedelta(hours=13))
    assert has_opened(window, session, START - timedelta(hours=1))
    # A start already past (a stale or back-dated order) is not judged.
    assert not has_opened(window, session, START + timedelta(hours=1))


def test_has_opened_on_the_day_of_a_date_only_start() -> None:
    session = InfusionSession("Appointment/a1", InfusionStart(day=date(2026, 12, 3)))
    window = placed(HOLD, session)
    assert has_opened(window, session, datetime(2026, 12, 3, 7, tzinfo=UTC))
    assert not has_opened(window, session, datetime(2026, 12, 2, 7, tzinfo=UTC))


def test_session_holds_place_one_window_per_session_in_order() -> None:
    kb = compile_knowledge_base(make_kb(make_rule()))
    evaluation = evaluate(kb, [make_fact()], make_order(), hook="order-sign", now=NOW)
    sessions = (_session(START), _session(START + timedelta(days=7)))
    holds = session_holds(evaluation.findings[0], sessions, NOW)
    assert [h.window.hold_from for h in holds] == [
        START - timedelta(hours=12),
        START + timedelta(days=7, hours=-12),
    ]
    assert [h.opened for h in holds] == [False, False]


def test_retimed_places_every_hold_on_the_session_and_keeps_others() -> None:
    kb = compile_knowledge_base(make_kb(make_rule()))
    evaluation = evaluate(kb, [make_fact()], make_order(), hook="order-sign", now=NOW)
    moved = retimed(
        evaluation, _session(START + timedelta(days=1), START + timedelta(days=1, hours=1))
    )
    hold = moved.findings[0].hold
    assert hold is not None
    assert hold.resume_after == START + timedelta(days=1, hours=5)
    assert moved.failures == evaluation.failures
