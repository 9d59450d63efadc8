"""How a hold reads across infusion sessions. Pure.

One session reads as it always has. A series of appointments lists each session's window (at most
``MAX_SESSIONS``, then how many more). A window that has already opened is said plainly, with a
request to confirm when the drug was last taken, instead of advice that can no longer be followed.
"""

from __future__ import annotations

from typing import Any

from cds_service.clinical.types import InfusionSession
from cds_service.render.patient import PatientPlan
from cds_service.render.summary import drug_names, with_combinations
from cds_service.render.wording import CardTime, clock, day_text, hold_sentence, hours, join_names
from cds_service.rules.findings import Finding, HoldWindow
from cds_service.rules.holds import SessionHold, session_holds

MAX_SESSIONS = 3
HOLD_WINDOWS_KEY = "ketamineCds.holdWindows"


def holds_of(finding: Finding, time: CardTime) -> tuple[SessionHold, ...]:
    """The finding's hold on each session of the card (the order's own start when none are listed);
    worked out once per response (the detail, summary, extension and patient plan all ask)."""
    sessions = time.sessions or (InfusionSession("", time.start),)
    return time.once("holds", finding, lambda: session_holds(finding, sessions, time.now))


def held_names(finding: Finding) -> str:
    """The drugs a hold applies to, each named once ("clonazepam and lorazepam")."""
    held = finding.held
    return join_names(list(dict.fromkeys(match.member.name for match in held)))


def one_session_sentence(finding: Finding, time: CardTime) -> str:
    """The finding's hold sentence for one session ("" without a hold), once per response (the
    detail and the order note both say it)."""
    hold = finding.hold
    if hold is None:
        return ""
    return time.once(
        "sentence", finding, lambda: hold_sentence(hold, held_names(finding), time.start, time.tz)
    )


def hold_text(finding: Finding, time: CardTime) -> str:
    """The hold sentence of a card whose finding has a hold."""
    hold = finding.hold
    if hold is None:
        return ""
    holds = holds_of(finding, time)
    if len(holds) > 1:
        return series_text(hold, holds, held_names(finding), time)
    if holds and holds[0].opened:
        return opened_text(holds[0], held_names(finding), time)
    return one_session_sentence(finding, time)


def _what(hold: HoldWindow, drugs: str) -> str:
    return f"as-needed {drugs}" if hold.as_needed_only else drugs


def _resume(window: HoldWindow, time: CardTime) -> str:
    if window.resume_after is not None:
        return f"resume after {clock(window.resume_after, time.tz)}, once recovered."
    if window.resume_after_hours is not None and window.hold_from is None:
        return f"resume {hours(window.resume_after_hours)} h after it starts, once recovered."
    return "resume once recovered."


def opened_text(held: SessionHold, drugs: str, time: CardTime) -> str:
    """ "Hold window already open since 21:00 CST on 30 Nov ...: confirm when X was last taken"."""
    window, start = held.window, held.session.start
    before = hours(window.before_hours)
    what = _what(window, drugs)
    if window.hold_from is not None and start is not None and start.at is not None:
        opened = (
            f"Hold window already open: it began at {clock(window.hold_from, time.tz)}, {before} h "
            f"before the start at {clock(start.at, time.tz)}"
        )
    else:
        day = day_text(start.day) if start is not None else "today"
        opened = (
            f"Infusion on {day}, start time not given: the {before} h hold may already have begun"
        )
    return f"{opened}. Confirm when {what} was last taken; {_resume(window, time)}"


def series_text(
    hold: HoldWindow, holds: tuple[SessionHold, ...], drugs: str, time: CardTime
) -> str:
    """The window of each session, the first ``MAX_SESSIONS``, then how many more there are."""
    what = _what(hold, drugs)
    lines = [f"no {what} within {hours(hold.before_hours)} h before each session:"]
    lines += [_session_line(held, what, time) for held in holds[:MAX_SESSIONS]]
    if len(holds) > MAX_SESSIONS:
        more = len(holds) - MAX_SESSIONS
        lines.append(f"- +{more} more session{'s' if more != 1 else ''} (same hold before each)")
    return "\n".join(lines)


def _session_line(held: SessionHold, what: str, time: CardTime) -> str:
    window, start = held.window, held.session.start
    if start is None:
        return "- start not given: the same hold before it starts"
    if start.at is None or window.hold_from is None:
        tail = "hold may already have begun: confirm the last dose" if held.opened else ""
        return f"- {day_text(start.day)} (start time not given){': ' + tail if tail else ''}"
    begins = clock(start.at, time.tz)
    if held.opened:
        since = clock(window.hold_from, time.tz)
        return f"- {begins}: already open since {since}; confirm when {what} was last taken"
    line = f"- {begins}: from {clock(window.hold_from, time.tz)}"
    if window.resume_after is not None:
        line += f"; resume after {clock(window.resume_after, time.tz)}"
    return line


def opened_summary(finding: Finding, time: CardTime) -> str | None:
    """The summary when the first session's hold has already opened, None otherwise.

    Only the summaries that advise the hold are replaced; a strong one (review, never stop) stays.
    """
    if finding.hold is None or finding.variant == "strong":
        return None
    holds = holds_of(finding, time)
    if not holds or not holds[0].opened:
        return None
    drugs = drug_names(finding)
    # As-needed use stays as-needed here too: the window concerns a dose the patient may not take.
    as_needed = finding.hold.as_needed_only or finding.variant == "light"
    what = f"as-needed {drugs}" if as_needed else drugs
    text = f"{what} hold window already open: confirm the last dose before ketamine"
    return with_combinations(finding, text[:1].upper() + text[1:])


def hold_windows_extension(
    finding: Finding, time: CardTime, plan: PatientPlan | None = None
) -> dict[str, Any]:
    """``ketamineCds.holdWindows``: one window per session and held record, with clock times only,
    the appointment it belongs to and the patient's paragraph for it."""
    windows = []
    for held in holds_of(finding, time):
        hold = held.window
        if hold.hold_from is None:
            continue
        for match in finding.held:
            window: dict[str, Any] = {
                "medication": match.fact.display,
                "reference": match.fact.reference,
                "holdFrom": hold.hold_from.astimezone(time.tz).isoformat(),
            }
            if hold.resume_after is not None:
                window["resumeAfter"] = hold.resume_after.astimezone(time.tz).isoformat()
            if held.session.reference.startswith("Appointment/"):
                window["appointment"] = held.session.reference
            if held.opened:
                window["alreadyOpen"] = True
            text = plan.paragraph(held.session.reference, match.fact.reference) if plan else None
            if text:
                window["patientText"] = text
            windows.append(window)
    return {HOLD_WINDOWS_KEY: windows} if windows else {}
