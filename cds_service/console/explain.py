"""Explain: a pasted hook request in, the trace of its evaluation out; nothing stored, nothing fetched.

The seam is ``Explainer``: a function from the parsed request to a ``Trace`` the page renders. Until
``evaluate --explain`` (issue 12) provides the engine's own trace, ``placeholder_trace`` builds one
from what the service exposes today: the normalised medication facts, which rule produced each card,
and the cards. Every string of a trace has the request's patient id and tokens taken out, and the
request's ``fhirServer`` and ``fhirAuthorization`` are dropped before evaluation: explain reads only
what was pasted and never calls an EHR.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cds_service.cdshooks.intake import parse_hook_request
from cds_service.cdshooks.registry import TriggerScope
from cds_service.clinical.types import MedicationFact
from cds_service.errors import DataUnavailable, RequestRejected
from cds_service.render.cards import CallContext
from cds_service.rules.engine import evaluate, evaluate_shadow
from cds_service.rules.findings import Evaluation
from cds_service.service import CdsService
from cds_service.service.context import patient_facts

REDACTED = "[removed]"


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
    note: str


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
    placeholder: bool = True  # the interim trace, until issue 12's engine trace replaces it


Explainer = Callable[[CdsService, Any], Awaitable[Trace]]


async def placeholder_trace(service: CdsService, payload: Any) -> Trace:
    """The trace from today's pipeline (replaced by the engine's ``--explain`` trace, issue 12)."""
    scrub = Redactor.for_payload(payload)
    try:
        return scrub.trace(await _trace(service, _offline(payload)))
    except RequestRejected as exc:
        return Trace(refused=scrub.text(exc.message))


async def _trace(service: CdsService, body: Any) -> Trace:
    call = parse_hook_request(body, service.registry, service.config.service_id)
    if call.empty_reason is not None:
        return Trace(notes=(f"Answered without checking: {call.empty_reason}.",))
    spec, request, kb = call.spec, call.request, service.kb
    scope = TriggerScope(
        lexicon=kb.lexicon,
        include_esketamine=service.config.include_esketamine,
        now=service.clock(),
        appointments=kb.appointments,
    )
    found = spec.find_triggers(request.context, scope)
    if not found:
        return Trace(notes=("No ketamine infusion among the draft orders: no cards.",))
    deadline = asyncio.get_running_loop().time() + service.config.deadline_seconds
    try:
        data = await service.source.gather(
            request, deadline=deadline, context_keys=spec.context_keys
        )
    except DataUnavailable as exc:
        return Trace(notes=(f"Medication data unavailable (answered 412): {exc.message}",))
    now, order = service.clock(), found[0]
    # The same reading as a hook call: substance use and the Conditions pasted beside the lists.
    facts, patient = patient_facts(kb, data, now)
    evaluation = evaluate(kb, facts, order, hook=spec.rules_hook, now=now, patient=patient)
    profile = service.config.profiles.choose(request.extension_keys)
    context = CallContext(patient_id=request.context.patientId, now=now, profile=profile)
    cards = service.renderer.cards(evaluation, order, list(data.gaps), context)
    shadow = evaluate_shadow(kb, facts, order, hook=spec.rules_hook, now=now)
    from_lists = [fact for fact in facts if fact.resource_type.startswith("Medication")]
    ignored = max(len(data.resources) - len(from_lists), 0)
    return Trace(
        notes=(
            f"{len(data.resources)} medication record(s) read from the pasted prefetch;"
            f" {ignored} named no ingredient of the knowledge base and were ignored.",
            *(f"Not checked: {gap.what}: {gap.reason}" for gap in data.gaps),
        ),
        records=tuple(_records(facts, evaluation, shadow)),
        cards=tuple(
            CardLine(
                topic=card.source.topic.code if card.source.topic else "-",
                rule=(card.source.topic.display or "") if card.source.topic else "",
                indicator=card.indicator,
                summary=card.summary,
                detail=card.detail or "",
                suggestions=tuple(s.label for s in card.suggestions or ()),
            )
            for card in cards
        ),
        shadow=tuple(f"{f.rule.id} v{f.rule.version} ({f.indicator})" for f in shadow.findings),
    )


def _records(
    facts: Iterable[MedicationFact], evaluation: Evaluation, shadow: Evaluation
) -> list[RecordLine]:
    counted: dict[int, list[str]] = {}
    for findings, suffix in ((evaluation.findings, ""), (shadow.findings, " (shadow)")):
        for finding in findings:
            for match in finding.matches:
                counted.setdefault(id(match.fact), []).append(finding.rule.id + suffix)
    return [
        RecordLine(
            position=index,
            resource_type=fact.resource_type,
            display=fact.display,
            ingredients=tuple(sorted(fact.ingredients)),
            status=fact.status or "(none)",
            dosing=fact.dose_text or ("as needed" if fact.as_needed else "no dose given"),
            counted_by=tuple(dict.fromkeys(counted.get(id(fact), []))),
            note="" if id(fact) in counted else "not counted (status, washout or hook)",
        )
        for index, fact in enumerate(facts, start=1)
    ]


def _offline(payload: Any) -> Any:
    """The request without its FHIR server and token: explain never calls the EHR."""
    if not isinstance(payload, dict):
        return payload
    return {k: v for k, v in payload.items() if k not in ("fhirServer", "fhirAuthorization")}


class Redactor:
    """Takes the request's patient id and tokens out of every string shown."""

    def __init__(self, secrets: Iterable[str]) -> None:
        words = sorted({s for s in secrets if s.strip()}, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(rf"(?<![\w-]){re.escape(w)}(?![\w-])" for w in words))
            if words
            else None
        )

    @classmethod
    def for_payload(cls, payload: Any) -> Redactor:
        if not isinstance(payload, dict):
            return cls(())
        found: list[str] = []
        context, auth = payload.get("context"), payload.get("fhirAuthorization")
        if isinstance(context, dict):
            found += [v for k, v in context.items() if k in ("patientId", "userId", "encounterId")]
        if isinstance(auth, dict):
            found += [v for k, v in auth.items() if k in ("access_token", "subject", "patient")]
        return cls(v for v in found if isinstance(v, str))

    def text(self, value: str) -> str:
        return self._pattern.sub(REDACTED, value) if self._pattern else value

    def trace(self, trace: Trace) -> Trace:
        scrubbed: Trace = _scrubbed(trace, self.text)
        return scrubbed


def _scrubbed(value: Any, text: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, tuple):
        return tuple(_scrubbed(item, text) for item in value)
    if isinstance(value, RecordLine | CardLine | Trace):
        fields = {name: _scrubbed(getattr(value, name), text) for name in value.__slots__}
        return type(value)(**fields)
    return value
