"""Hold windows per infusion session: a class's hold, as the engine found it, placed on each session.

The engine decides whether a class is held and for how many hours (site overrides applied); this
module only places that window on a session's clock: from ``before_hours`` before its start until
``resume_after_hours`` after its end (its start when no end is given). A window whose opening has
already passed is marked ``opened``: the card then asks when the drug was last taken. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cds_service.clinical.types import InfusionSession, as_aware
from cds_service.rules.findings import Evaluation, Finding, HoldWindow


@dataclass(frozen=True, slots=True)
class SessionHold:
    """One session's hold window for one class, and whether it has already opened."""

    session: InfusionSession
    window: HoldWindow
    opened: bool


def placed(hold: HoldWindow, session: InfusionSession) -> HoldWindow:
    """The hold on this session's clock: no clock times for a date-only or unknown start."""
    # Built directly, not with dataclasses.replace (which reads the fields anew on every call):
    # every held class of a response is placed on every session, twice.
    start = session.start.at if session.start is not None else None
    resume = hold.resume_after_hours
    if start is None:
        hold_from = resume_after = None
    else:
        finish = session.end if session.end is not None and session.end > start else start
        hold_from = start - timedelta(hours=hold.before_hours)
        resume_after = finish + timedelta(hours=resume) if resume is not None else None
    return HoldWindow(hold.before_hours, resume, hold_from, resume_after, hold.as_needed_only)


def has_opened(window: HoldWindow, session: InfusionSession, now: datetime) -> bool:
    """Whether the hold began before ``now`` while the infusion is still ahead: its clock time
    passed, or (a date-only start) the infusion is today, when the window has begun whatever the
    start time. A start already past (a stale or back-dated order) is not judged."""
    start = session.start
    if start is None:
        return False
    moment = as_aware(now)
    if window.hold_from is not None and start.at is not None:
        return window.hold_from <= moment < start.at
    return start.at is None and moment.date() == start.day


def session_holds(
    finding: Finding, sessions: tuple[InfusionSession, ...], now: datetime | None
) -> tuple[SessionHold, ...]:
    """The finding's hold placed on each session, in session order; empty without a hold."""
    if finding.hold is None:
        return ()
    holds = []
    for session in sessions:
        window = placed(finding.hold, session)
        opened = now is not None and has_opened(window, session, now)
        holds.append(SessionHold(session=session, window=window, opened=opened))
    return tuple(holds)


def retimed(evaluation: Evaluation, session: InfusionSession) -> Evaluation:
    """Every finding's hold placed on ``session`` (the first one: its end counts for resuming)."""
    findings = tuple(
        replace(f, hold=placed(f.hold, session)) if f.hold is not None else f
        for f in evaluation.findings
    )
    return replace(evaluation, findings=findings)
