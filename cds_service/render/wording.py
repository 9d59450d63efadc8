"""How cards say things: clock times with their date and zone, durations as people say them, where a
record came from in a clinician's words, the hold and washout sentences. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cds_service.clinical.types import (
    InfusionSession,
    InfusionStart,
    MedicationFact,
    days_before_start,
)
from cds_service.rules.findings import HoldWindow

REQUEST_TYPES = frozenset({"MedicationRequest", "MedicationOrder"})
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CardTime:
    """The time frame of one card: the infusion start, the evaluation time, the zone of clock times."""

    start: InfusionStart | None
    now: datetime | None
    tz: tzinfo
    # The infusion sessions the holds are placed on (a series of appointments); empty: one, at start.
    sessions: tuple[InfusionSession, ...] = ()
    # What several parts of one response say alike (a finding's holds on the sessions, its hold
    # sentence), worked out once: by id(finding), with the finding kept so an id is never reused.
    # One CardTime per response, so nothing outlives the call; not an init field, so a CardTime
    # made with ``replace`` (another ``now``) starts empty.
    said: dict[tuple[str, int], tuple[object, Any]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def once(self, kind: str, finding: object, compute: Callable[[], T]) -> T:
        """``compute()``, remembered for this response by ``kind`` and ``finding``."""
        key = (kind, id(finding))
        said = self.said.get(key)
        if said is not None and said[0] is finding:
            return cast(T, said[1])
        value = compute()
        self.said[key] = (finding, value)
        return value


def zone(name: str) -> tzinfo:
    """The IANA zone for clock times shown on cards; UTC when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def hours(value: float) -> str:
    """12.0 -> "12", 1.5 -> "1.5"."""
    return f"{value:g}"


def join_names(names: list[str], limit: int = 2) -> str:
    """Names joined for a sentence: "a", "a and b", "a, b +1" beyond ``limit``."""
    if len(names) <= 1:
        return "".join(names)
    if len(names) == 2 and limit >= 2:
        return f"{names[0]} and {names[1]}"
    shown = max(limit, 1)
    return f"{', '.join(names[:shown])} +{len(names) - shown}"


def day_text(day: date) -> str:
    """ "3 Dec": the day and month, as cards write dates."""
    return f"{day.day} {day:%b}"


# A response repeats the same few instants on every card (hold start, infusion start, resume): a pure
# function of the instant and the zone, remembered (bounded).
@lru_cache(maxsize=4096)
def clock(moment: datetime, tz: tzinfo) -> str:
    """ "21:00 UTC on 2 Dec": every clock time on a card names its zone and its date."""
    local = moment.astimezone(tz)
    return f"{local:%H:%M} {local.tzname() or 'local time'} on {day_text(local.date())}"


def duration_words(days: int) -> str:
    """Durations as people say them: "5 days", "about 3 weeks", "about 18 months", "about 8 years"."""
    if days < 14:
        return f"{days} day{'s' if days != 1 else ''}"
    if days < 56:
        weeks = round(days / 7)
        return f"{weeks} weeks" if days % 7 == 0 else f"about {weeks} weeks"
    if days < 730:
        return f"about {round(days / 30.44)} months"
    return f"about {round(days / 365.25)} years"


def source_words(fact: MedicationFact) -> str:
    """Where a record came from, as a clinician says it: "patient-reported", "active prescription"."""
    if fact.reported:
        return "patient-reported"
    if fact.resource_type in REQUEST_TYPES:
        return f"{fact.status} prescription" if fact.status else "prescription"
    return "recorded medication"


def hold_sentence(hold: HoldWindow, drugs: str, start: InfusionStart | None, tz: tzinfo) -> str:
    """Clock times when the start instant is known; relative terms for a date-only or unknown start."""
    what = f"as-needed {drugs}" if hold.as_needed_only else drugs
    before = hours(hold.before_hours)
    if hold.hold_from is None:
        return _relative_hold(hold, what, before, start)
    begins = hold.hold_from + timedelta(hours=hold.before_hours)
    text = f"No {what} from {clock(hold.hold_from, tz)} ({before} h before the start, {clock(begins, tz)})"
    if hold.resume_after is not None:
        return f"{text}; resume after {clock(hold.resume_after, tz)}, once recovered."
    return f"{text}; resume once recovered."


def _relative_hold(hold: HoldWindow, what: str, before: str, start: InfusionStart | None) -> str:
    when = "the infusion starts"
    prefix = ""
    if start is not None:
        # The Sandbox sends boundsPeriod.start as a date: say so rather than invent a midnight start.
        prefix = f"Infusion on {day_text(start.day)}, start time not given: "
        when = "it starts"
    text = f"{prefix}no dose of {what} within {before} h before {when}"
    if hold.resume_after_hours is None:
        return f"{text}; resume once recovered."
    return f"{text}; resume {hours(hold.resume_after_hours)} h after it starts, once recovered."


def washout_text(
    fact: MedicationFact,
    start: InfusionStart | None,
    now: datetime | None,
    washout_days: int,
    window_name: str = "washout",
) -> str:
    """ "stopped 2 days ago" / "stopped 31 days before the infusion on 20 Dec", within the washout."""
    window = f"within the {washout_days}-day {window_name}"
    last = fact.ended or fact.started
    if last is None:
        return f"stopped recently ({window})"
    if now is None and start is None:
        return f"stopped on {day_text(last.date())} ({window})"
    days = int(days_before_start(last, start, now or last))
    if days < 1:
        return f"stopped on {day_text(last.date())} ({window})"
    count = f"{days} day{'s' if days != 1 else ''}"
    if start is None:
        return f"stopped {count} ago ({window})"
    return f"stopped {count} before the infusion on {day_text(start.day)} ({window})"


def acts_for(days: int) -> str:
    """ "about 4 weeks": how long one injection acts, as people say it."""
    if days % 7 == 0 and days >= 14:
        return f"about {days // 7} weeks"
    return f"about {days} days"


def depot_text(fact: MedicationFact, start: InfusionStart | None, now: datetime | None) -> str:
    """A long-acting injection by its last dose and how long it acts, never as "stopped"."""
    days = fact.depot_days or 0
    acts = f"long-acting injection, each acts {acts_for(days)}"
    last = fact.ended or fact.started
    if last is None or fact.status not in ("completed", "stopped"):
        return acts
    ago = int(days_before_start(last, start, now or last))
    when = f"{ago} day{'s' if ago != 1 else ''} before the infusion" if start else f"{ago} days ago"
    if start is None and ago == 1:
        when = "1 day ago"
    return f"{acts}; last injection on {day_text(last.date())} ({when})"
