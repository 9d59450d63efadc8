"""The patient's plan: plain-language instructions for each held medicine and session. Pure.

Only what applies to this patient: a paragraph per medicine the engine holds (the records a hold
applies to, each ingredient once), per session, in the clinic's time zone with weekday and date;
nothing for classes without a hold. A date-only session gets no clock times; a window already open
tells the patient to take no more and to tell the team when they last took it. The words are the
knowledge base's templates (``cards/patient/instructions.yaml``), so a site can translate them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import lru_cache

from cds_service.clinical.lexicon import words_of
from cds_service.clinical.types import InfusionSession
from cds_service.render.wording import hours
from cds_service.rules.findings import Finding, Match
from cds_service.rules.holds import SessionHold, session_holds
from cds_service.rules.schema import HoldWording, PatientInstructions

HoldsOf = Callable[[Finding], tuple[SessionHold, ...]]


@dataclass(frozen=True, slots=True)
class MedicinePlan:
    """What the patient does with one held medicine, per session."""

    topic: str
    records: tuple[str, ...]  # the records it stands for ("MedicationStatement/ms-1")
    name: str  # "clonazepam (Klonopin)"
    paragraphs: tuple[tuple[str, str], ...]  # (session reference, paragraph)


@dataclass(frozen=True, slots=True)
class PatientPlan:
    """The whole plan; ``text`` gives all of it or the part for some sessions or classes."""

    title: str
    sessions: tuple[tuple[str, str], ...]  # (session reference, its line)
    medicines: tuple[MedicinePlan, ...]
    general: str
    no_changes: str
    zone: str | None  # the zone line, when any clock time is shown

    @property
    def holds_anything(self) -> bool:
        """Whether any medicine has to wait (otherwise nothing is delivered to the patient)."""
        return bool(self.medicines)

    def blocks(
        self, sessions: Collection[str] | None = None, topics: Collection[str] | None = None
    ) -> list[tuple[str, list[str]]]:
        """(session line, its paragraphs) for the chosen sessions and classes, in session order."""
        chosen = [m for m in self.medicines if topics is None or m.topic in topics]
        blocks = []
        for reference, line in self.sessions:
            if sessions is not None and reference not in sessions:
                continue
            paragraphs = [p for m in chosen for ref, p in m.paragraphs if ref == reference]
            if paragraphs:
                blocks.append((line, paragraphs))
        return blocks

    def text(
        self,
        *,
        sessions: Collection[str] | None = None,
        topics: Collection[str] | None = None,
        title: bool = True,
        general: bool = True,
    ) -> str:
        """Plain text: the title, each session's line and paragraphs, what always applies, the zone."""
        parts = [self.title] if title else []
        blocks = self.blocks(sessions, topics)
        for line, paragraphs in blocks:
            parts += [line, *paragraphs]
        if not blocks and topics is None:
            parts.append(self.no_changes)
        if general:
            parts.append(self.general)
        if self.zone and blocks:
            parts.append(self.zone)
        return "\n\n".join(parts)

    def paragraph(self, session: str, record: str) -> str | None:
        """The paragraph for one session and medication record (the machine-readable windows)."""
        for medicine in self.medicines:
            if record in medicine.records:
                return next((p for ref, p in medicine.paragraphs if ref == session), None)
        return None


@dataclass(frozen=True, slots=True)
class _Clock:
    words: PatientInstructions
    tz: tzinfo

    def time(self, moment: datetime) -> str:
        local = moment.astimezone(self.tz)
        period = self.words.am if local.hour < 12 else self.words.pm
        hour = local.hour % 12 or 12
        return self.words.time_format.format(hour=hour, minute=f"{local.minute:02d}", period=period)

    def day(self, moment: datetime) -> str:
        return self.date(moment.astimezone(self.tz).date())

    def date(self, day: date) -> str:
        return self.words.day_format.format(
            weekday=self.words.weekdays[day.weekday()],
            day=day.day,
            month=self.words.months[day.month - 1],
        )


def patient_plan(
    words: PatientInstructions,
    findings: Sequence[Finding],
    sessions: tuple[InfusionSession, ...],
    now: datetime | None,
    tz: tzinfo,
    *,
    holds: HoldsOf | None = None,
    wordings: Mapping[tuple[str, bool], HoldWording] | None = None,
) -> PatientPlan:
    """The plan for these findings and sessions (the renderer's zone; ``now`` for opened windows).

    ``holds``: each finding's holds on ``sessions`` when the caller has them already (the cards');
    ``wordings``: ``compiled_wordings(words, topics)``, built once."""
    clock = _Clock(words, tz)
    placed = holds or (lambda finding: session_holds(finding, sessions, now))
    medicines = tuple(_medicines(words, findings, placed, clock, wordings or {}))
    timed = [s for s in sessions if s.start is not None and s.start.at is not None]
    zone = None
    if timed and timed[0].start is not None and timed[0].start.at is not None:
        local = timed[0].start.at.astimezone(tz)
        zone = words.zone.format(zone=local.tzname() or str(tz))
    return PatientPlan(
        title=words.title,
        sessions=tuple((s.reference, _session_line(words, s, clock)) for s in sessions),
        medicines=medicines,
        general=words.general,
        no_changes=words.no_changes,
        zone=zone,
    )


def _session_line(words: PatientInstructions, session: InfusionSession, clock: _Clock) -> str:
    start = session.start
    if start is None:
        return words.session_unknown
    if start.at is None:
        return words.session_untimed.format(day=clock.date(start.day))
    return words.session.format(time=clock.time(start.at), day=clock.day(start.at))


def _medicines(
    words: PatientInstructions,
    findings: Sequence[Finding],
    placed: HoldsOf,
    clock: _Clock,
    wordings: Mapping[tuple[str, bool], HoldWording],
) -> Iterator[MedicinePlan]:
    for finding in findings:
        if finding.hold is None:
            continue
        wording = wordings.get((finding.rule.id, finding.hold.as_needed_only))
        if wording is None:
            wording = wording_for(words, finding)
        holds = placed(finding)
        for matches in _by_ingredient(finding).values():
            medicine = medicine_name(words, matches[0])
            yield MedicinePlan(
                topic=finding.rule.id,
                records=tuple(m.fact.reference for m in matches),
                name=medicine,
                paragraphs=tuple(
                    (h.session.reference, _paragraph(wording, medicine, h, clock)) for h in holds
                ),
            )


def _by_ingredient(finding: Finding) -> dict[str, list[Match]]:
    grouped: dict[str, list[Match]] = {}
    for match in finding.held:
        grouped.setdefault(match.member.name, []).append(match)
    return grouped


def wording_for(words: PatientInstructions, finding: Finding) -> HoldWording:
    """The sentences for this class: its kind of hold's, with the class's own where it has them."""
    hold = finding.hold
    return _wording(words, finding.rule.id, hold is not None and hold.as_needed_only)


def compiled_wordings(
    words: PatientInstructions, topics: Iterable[str]
) -> dict[tuple[str, bool], HoldWording]:
    """Every class's sentences for each kind of hold (as needed or not), built once at start-up."""
    return {
        (topic, kind): _wording(words, topic, kind) for topic in topics for kind in (False, True)
    }


def _wording(words: PatientInstructions, topic: str, as_needed_only: bool) -> HoldWording:
    base = words.holds.as_needed if as_needed_only else words.holds.all
    override = words.topics.get(topic)
    if override is None:
        return base
    changes = {k: v for k, v in override.model_dump().items() if v is not None}
    return base.model_copy(update=changes)


def medicine_name(words: PatientInstructions, match: Match) -> str:
    """ "clonazepam (Klonopin)": the ingredient, with the brand only when the record names it (a
    brand the patient does not take, OxyContin for immediate-release oxycodone, would mislead)."""
    member = match.member
    if match.fact.probable:  # never tell a patient a drug name we only guessed from their spelling
        written = match.fact.display.rsplit(" (probably ", 1)[0]
        return words.medicine_probable.format(written=written, ingredient=member.name)
    recorded = set(words_of(match.fact.display))
    brand = next((b for b, words in _brand_words(member.brands) if words <= recorded), None)
    if brand is None:
        return words.medicine_no_brand.format(ingredient=member.name)
    return words.medicine.format(ingredient=member.name, brand=brand)


@lru_cache(maxsize=512)
def _brand_words(brands: tuple[str, ...]) -> tuple[tuple[str, frozenset[str]], ...]:
    # The longest brand first ("Lamictal XR" before "Lamictal"); a class's brands, read once.
    ordered = sorted(brands, key=lambda b: -len(words_of(b)))
    return tuple((brand, frozenset(words_of(brand))) for brand in ordered)


def _paragraph(wording: HoldWording, medicine: str, held: SessionHold, clock: _Clock) -> str:
    window = held.window
    before = hours(window.before_hours)
    if held.opened:
        first = wording.opened.format(medicine=medicine, hours=before)
    elif window.hold_from is not None:
        at = window.hold_from
        first = wording.last_dose.format(medicine=medicine, time=clock.time(at), day=clock.day(at))
    else:
        first = wording.last_dose_untimed.format(medicine=medicine, hours=before)
    resume = _resume(wording, medicine, held, clock)
    return " ".join((first, resume, wording.keep.format(medicine=medicine)))


def _resume(wording: HoldWording, medicine: str, held: SessionHold, clock: _Clock) -> str:
    window = held.window
    if window.resume_after is not None:
        at = window.resume_after
        return wording.resume.format(medicine=medicine, time=clock.time(at), day=clock.day(at))
    if window.resume_after_hours is not None and window.hold_from is None:
        return wording.resume_untimed.format(
            medicine=medicine, hours=hours(window.resume_after_hours)
        )
    return wording.resume_when_awake.format(medicine=medicine)
