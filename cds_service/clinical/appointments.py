"""Infusion appointments: which Appointments are ketamine infusion sessions, and when they are. Pure.

An Appointment is a session when one of its codings is one of the site's codes, when one of its texts
holds every word of a configured phrase, or when it names the site's infusion HealthcareService. The
codes and phrases are the knowledge base's (``appointments:`` in the manifest), compiled once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cds_service.clinical.fhirjson import (
    as_dict,
    as_list,
    as_str,
    codings,
    concept_texts,
    parse_instant,
    parse_start,
)
from cds_service.clinical.lexicon import words_of
from cds_service.clinical.types import InfusionSession, JsonObject, KetamineOrder

# Appointments that will not (or no longer) happen are never sessions; an unknown status counts.
NOT_HAPPENING = frozenset({"cancelled", "noshow", "fulfilled", "entered-in-error"})
_CONCEPTS = ("serviceCategory", "serviceType", "appointmentType", "specialty", "reasonCode")
_SERVICE_CONCEPTS = ("category", "type", "specialty")
DEFAULT_DISPLAY = "ketamine infusion appointment"


@dataclass(frozen=True, slots=True)
class AppointmentVocabulary:
    """The site's infusion appointment codes, phrases (as word sets) and HealthcareServices."""

    codes: frozenset[tuple[str, str]] = frozenset()
    phrases: tuple[frozenset[str], ...] = ()
    esketamine_phrases: tuple[frozenset[str], ...] = ()
    services: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        codes: Iterable[tuple[str, str]],
        phrases: Iterable[str],
        esketamine_phrases: Iterable[str] = (),
        services: Iterable[str] = (),
    ) -> AppointmentVocabulary:
        """Compile the manifest's terms (start-up only)."""
        return cls(
            codes=frozenset((system.strip(), code.strip()) for system, code in codes),
            phrases=_word_sets(phrases),
            esketamine_phrases=_word_sets(esketamine_phrases),
            services=frozenset(services),
        )

    def kind(self, texts: Iterable[str], coded: Iterable[tuple[str, str]]) -> str | None:
        """ "ketamine", "esketamine" or None for an appointment's texts and codings."""
        if any(code in self.codes for code in coded):
            return "ketamine"
        word_sets = [frozenset(words_of(text)) for text in texts]
        if any(p <= words for p in self.phrases for words in word_sets):
            return "ketamine"
        if any(p <= words for p in self.esketamine_phrases for words in word_sets):
            return "esketamine"
        return None


def _word_sets(phrases: Iterable[str]) -> tuple[frozenset[str], ...]:
    return tuple(words for words in (frozenset(words_of(p)) for p in phrases) if words)


def infusion_sessions(
    resources: Iterable[JsonObject],
    vocabulary: AppointmentVocabulary,
    *,
    include_esketamine: bool,
) -> tuple[InfusionSession, ...]:
    """The Appointments among ``resources`` that are infusion sessions, earliest first.

    HealthcareServices travelling beside them (in the Bundle, or contained) are read for what they say.
    """
    items = [as_dict(r) for r in resources]
    services = {
        f"HealthcareService/{as_str(r.get('id'))}": r
        for r in items
        if r.get("resourceType") == "HealthcareService"
    }
    sessions = []
    for appointment in items:
        session = _session(appointment, vocabulary, services)
        if session is not None and (include_esketamine or not session.esketamine):
            sessions.append(session)
    return tuple(sorted(sessions, key=_order_key))


def bundle_resources(bundle: object) -> tuple[JsonObject, ...]:
    """The resources of a Bundle's entries (``context.appointments``), tolerating a bare list."""
    entries = as_list(as_dict(bundle).get("entry"))
    return tuple(r for e in entries if (r := as_dict(as_dict(e).get("resource"))))


def _session(
    appointment: JsonObject,
    vocabulary: AppointmentVocabulary,
    services: Mapping[str, JsonObject],
) -> InfusionSession | None:
    if appointment.get("resourceType") != "Appointment":
        return None
    if as_str(appointment.get("status")).strip().lower() in NOT_HAPPENING:
        return None
    kind = _kind(appointment, vocabulary, services)
    if kind is None:
        return None
    start = parse_start(appointment.get("start"))
    end = parse_instant(appointment.get("end")) if start is not None and start.at else None
    return InfusionSession(
        reference=f"Appointment/{as_str(appointment.get('id')) or '#'}",
        start=start,
        end=end,
        resource=appointment,
        esketamine=kind == "esketamine",
    )


def _kind(
    appointment: JsonObject,
    vocabulary: AppointmentVocabulary,
    services: Mapping[str, JsonObject],
) -> str | None:
    actors = [as_dict(as_dict(p).get("actor")) for p in as_list(appointment.get("participant"))]
    references = {as_str(actor.get("reference")) for actor in actors}
    if references & vocabulary.services:
        return "ketamine"
    described = [*_service_resources(appointment, references, services), appointment]
    texts = [text for resource in described for text in _texts(resource)]
    texts += [as_str(actor.get("display")) for actor in actors]
    return vocabulary.kind([t for t in texts if t], _codings(described))


def _service_resources(
    appointment: JsonObject, references: set[str], services: Mapping[str, JsonObject]
) -> Iterator[JsonObject]:
    """The HealthcareServices an appointment names: in the Bundle beside it, or contained."""
    for reference in references:
        if reference in services:
            yield services[reference]
    for contained in as_list(appointment.get("contained")):
        if as_dict(contained).get("resourceType") == "HealthcareService":
            if f"#{as_str(contained.get('id'))}" in references:
                yield contained


def _texts(resource: JsonObject) -> Iterator[str]:
    for key in ("description", "comment", "name"):
        yield as_str(resource.get(key))
    for key in (*_CONCEPTS, *_SERVICE_CONCEPTS):
        for concept in as_list(resource.get(key)):
            yield from concept_texts(concept)


def _codings(resources: Iterable[JsonObject]) -> Iterator[tuple[str, str]]:
    for resource in resources:
        for key in (*_CONCEPTS, *_SERVICE_CONCEPTS):
            for concept in as_list(resource.get(key)):
                for coding in codings(concept):
                    yield as_str(coding.get("system")).strip(), as_str(coding.get("code")).strip()


def _order_key(session: InfusionSession) -> tuple[int, str]:
    # Sessions without a start go last; a date-only start sorts as its date.
    if session.start is None:
        return (1, "")
    moment = session.start.at.isoformat() if session.start.at else session.start.day.isoformat()
    return (0, moment)


def starting_within(
    sessions: Iterable[InfusionSession], now: datetime, after: timedelta, before: timedelta
) -> tuple[InfusionSession, ...]:
    """Sessions whose start lies between ``now - after`` and ``now + before`` (a date-only start:
    its day between those dates). A session without a start is never placed in a window."""
    earliest, latest = now - after, now + before
    return tuple(s for s in sessions if _starts_between(s, earliest, latest))


def _starts_between(session: InfusionSession, earliest: datetime, latest: datetime) -> bool:
    start = session.start
    if start is None:
        return False
    if start.at is not None:
        return earliest <= start.at <= latest
    return earliest.date() <= start.day <= latest.date()


def upcoming(sessions: Iterable[InfusionSession], now: datetime) -> tuple[InfusionSession, ...]:
    """Sessions not yet over: ending (or, without an end, starting) after ``now``; a date-only one
    until its day has passed, and one without a start (a proposed booking) always."""
    kept = []
    for session in sessions:
        start = session.start
        if start is None or (start.at is None and start.day >= now.date()):
            kept.append(session)
        elif start.at is not None and (session.end or start.at) > now:
            kept.append(session)
    return tuple(kept)


def session_trigger(sessions: tuple[InfusionSession, ...]) -> KetamineOrder:
    """The trigger of a series: its first session, carrying all of them (``sessions`` not empty)."""
    first = sessions[0]
    texts = [as_str(first.resource.get("description"))]
    texts += [t for c in as_list(first.resource.get("serviceType")) for t in concept_texts(c)]
    return KetamineOrder(
        reference=first.reference,
        resource_type="Appointment",
        display=next((t for t in texts if t), DEFAULT_DISPLAY),
        resource=first.resource,
        start=first.start,
        esketamine=first.esketamine,
        sessions=sessions,
    )
