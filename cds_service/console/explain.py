"""Explain: a pasted hook request in, the engine's trace of its evaluation out; nothing stored or fetched.

The seam is ``Explainer``: a function from the parsed request to a ``Trace`` the page renders. The
default, ``engine_trace``, is the trace of ``evaluate --explain`` (``service.explain``, built in the
core by ``rules.explain``) put into page lines: each record as read, what each class made of it or
why it was ignored, the rule behind each card, and the cards. Every string has the request's patient
id and tokens taken out, and the request's ``fhirServer`` and ``fhirAuthorization`` are dropped
before evaluation: explain reads only what was pasted and never calls an EHR.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cds_service.cdshooks.models import Card
from cds_service.errors import RequestRejected
from cds_service.rules.explain import EvaluationTrace, RecordTrace
from cds_service.service import CdsService
from cds_service.service.explain import REDACTED, Explanation, Redactor, explain_request

__all__ = ["REDACTED", "CardLine", "Explainer", "RecordLine", "Redactor", "Trace", "engine_trace"]


@dataclass(frozen=True, slots=True)
class RecordLine:
    """One medication record as read, and what the rules made of it."""

    position: int
    resource_type: str
    display: str
    ingredients: tuple[str, ...]
    status: str
    dosing: str
    counted_by: tuple[str, ...]  # the topics whose rule counted it
    note: str  # why it gave nothing, or why each of its classes ignored it
    match: str = ""  # "exact" or "probable"; "" when it gave no fact


@dataclass(frozen=True, slots=True)
class CardLine:
    """A card as the EHR would receive it, with the rule that produced it."""

    topic: str
    rule: str
    indicator: str
    summary: str
    detail: str
    suggestions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Trace:
    """What the explain page shows; ``refused`` when the request could not be evaluated at all."""

    notes: tuple[str, ...] = ()
    records: tuple[RecordLine, ...] = ()
    cards: tuple[CardLine, ...] = ()
    shadow: tuple[str, ...] = ()  # shadow rules that would have fired (never sent)
    refused: str | None = None
    placeholder: bool = False  # an interim trace (no longer used: the engine's trace is shown)


Explainer = Callable[[CdsService, Any], Awaitable[Trace]]


async def engine_trace(service: CdsService, payload: Any) -> Trace:
    """The engine's trace of a pasted request, as page lines, redacted."""
    scrub = Redactor.for_payload(payload)
    try:
        explanation = await explain_request(service, service.config.service_id, payload)
    except RequestRejected as exc:
        return Trace(refused=scrub.text(exc.message))
    scrubbed: Trace = _scrubbed(_page_trace(explanation), scrub.text)
    return scrubbed


def _page_trace(explanation: Explanation) -> Trace:
    trace = explanation.trace
    if trace is None:
        return Trace(notes=explanation.notes)
    read = sum(1 for record in trace.records if record.match is not None)
    summary = f"{len(trace.records)} medication record(s) in the pasted prefetch; {read} read as"
    return Trace(
        notes=(
            f"{summary} an ingredient of the knowledge base.",
            *explanation.notes,
            *_failures(trace),
        ),
        records=tuple(_record_line(record) for record in trace.records),
        cards=tuple(
            _card_line(card, trace, dict(explanation.folded)) for card in explanation.cards
        ),
        shadow=tuple(
            f"{f.topic} v{f.rule_version} ({f.indicator})" for f in trace.findings if f.shadow
        ),
    )


def _failures(trace: EvaluationTrace) -> tuple[str, ...]:
    return tuple(
        f"Rule failed (its class was not checked): {failure}" for failure in trace.failures
    )


def _record_line(record: RecordTrace) -> RecordLine:
    counted = tuple(
        check.topic + (" (shadow)" if check.shadow else "")
        for check in record.classes
        if check.counted
    )
    ignored = [
        f"{check.topic}{' (shadow)' if check.shadow else ''} ignored: {check.reason}"
        for check in record.classes
        if not check.counted
    ]
    note = "; ".join(ignored) if record.match is not None else f"ignored: {record.outcome}"
    dosing = record.dose or "no dose given"
    if record.match is not None:
        dosing += " (as needed)" if record.as_needed else " (scheduled)"
    return RecordLine(
        position=record.position,
        resource_type=record.resource_type,
        display=record.display or "(no text)",
        ingredients=record.ingredients,
        status=record.status or "(none)",
        dosing=dosing,
        counted_by=counted,
        note=note,
        match=record.match or "",
    )


def _card_line(card: Card, trace: EvaluationTrace, folded: dict[str, tuple[str, ...]]) -> CardLine:
    topic = card.source.topic.code if card.source.topic else "-"
    title = (card.source.topic.display or "") if card.source.topic else ""
    finding = next((f for f in trace.findings if f.topic == topic and not f.shadow), None)
    if finding is not None:
        records = ", ".join(f"#{p}" for p in finding.records)
        title = f"v{finding.rule_version} {title} (records {records}, {finding.variant} wording)"
    if topic in folded:
        title += f"; with the reasons of {', '.join(folded[topic])} folded in"
    return CardLine(
        topic=topic,
        rule=title,
        indicator=card.indicator,
        summary=card.summary,
        detail=card.detail or "",
        suggestions=tuple(s.label for s in card.suggestions or ()),
    )


def _scrubbed(value: Any, text: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, tuple):
        return tuple(_scrubbed(item, text) for item in value)
    if isinstance(value, RecordLine | CardLine | Trace):
        fields = {name: _scrubbed(getattr(value, name), text) for name in value.__slots__}
        return type(value)(**fields)
    return value
