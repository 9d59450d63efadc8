"""Explain one hook request: the service's own path, with the engine's trace beside the cards.

Used by ``cds-service evaluate --explain`` and the console's explain page. Nothing is audited,
counted or remembered, and the request's FHIR server and token are dropped first: only what the
request carries (its prefetch) is read. ``Redactor`` takes the request's patient id, user,
encounter and tokens out of every string shown.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cds_service.cdshooks.intake import parse_hook_request
from cds_service.cdshooks.models import Card
from cds_service.clinical.readings import read_records
from cds_service.errors import DataUnavailable
from cds_service.render.fold import fold_findings
from cds_service.rules.engine import evaluate_shadow
from cds_service.rules.explain import EvaluationTrace, trace_evaluation

if TYPE_CHECKING:
    from cds_service.service import CdsService

REDACTED = "[removed]"


@dataclass(frozen=True, slots=True)
class Explanation:
    """What an explained request gave: notes (why nothing was checked), the trace, the cards."""

    notes: tuple[str, ...] = ()
    trace: EvaluationTrace | None = None
    cards: tuple[Card, ...] = ()
    # card topic -> the classes whose reasons were folded into its card (render.fold)
    folded: tuple[tuple[str, tuple[str, ...]], ...] = ()


async def explain_request(service: CdsService, service_id: str, payload: Any) -> Explanation:
    """The trace and cards of one request. Raises ``RequestRejected`` for a request the service
    would refuse (the triggers and evaluation are the service's own, so the trace cannot drift)."""
    body = offline(payload)
    call = parse_hook_request(body, service.registry, service_id)
    if call.empty_reason is not None:
        return Explanation(notes=(f"Answered without checking: {call.empty_reason}.",))
    spec, request, kb = call.spec, call.request, service.kb
    now = service.clock()
    deadline = asyncio.get_running_loop().time() + service.config.deadline_seconds
    try:
        found = await service._triggers(spec, request, deadline, None, now)
        if not found:
            return Explanation(notes=("No ketamine infusion in this request: no cards.",))
        data = await service.source.gather(
            request, deadline=deadline, context_keys=spec.context_keys
        )
    except DataUnavailable as exc:
        return Explanation(notes=(f"Medication data unavailable (answered 412): {exc.message}",))
    order = found[0]
    profile = service.config.profiles.choose(request.extension_keys)
    worked = service.work(spec, request, order, data, profile, now)
    # The readings carry the evaluation's own facts, so the trace says which card counted which record.
    by_reference = {fact.reference: fact for fact in worked.facts}
    readings = read_records(data.resources, kb.lexicon, data.medications, by_reference)
    shadow = evaluate_shadow(kb, worked.facts, order, hook=spec.rules_hook, now=now)
    cards = [*worked.cards, *([worked.unchecked] if worked.unchecked is not None else [])]
    trace = trace_evaluation(
        kb, readings, worked.evaluation, shadow, hook=spec.rules_hook, now=now, start=order.start
    )
    notes = tuple(f"Not checked: {gap.what}: {gap.reason}" for gap in worked.gaps)
    folded = tuple(
        (f.primary.rule.id, tuple(also.rule.id for also in f.also))
        for f in fold_findings(worked.evaluation.findings)
        if f.also
    )
    return Explanation(notes=notes, trace=trace, cards=tuple(cards), folded=folded)


def offline(payload: Any) -> Any:
    """The request without its FHIR server and token: explain never calls the EHR."""
    if not isinstance(payload, dict):
        return payload
    return {k: v for k, v in payload.items() if k not in ("fhirServer", "fhirAuthorization")}


class Redactor:
    """Takes the request's patient id, user, encounter and tokens out of every string shown."""

    def __init__(self, secrets: Iterable[str]) -> None:
        words = sorted({s for s in secrets if s.strip()}, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(rf"(?<![\w-]){re.escape(w)}(?![\w-])" for w in words))
            if words
            else None
        )

    @classmethod
    def for_payload(cls, payload: Any) -> Redactor:
        """The secrets of one request: its context's ids and its authorization's token."""
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
        """``value`` with every secret replaced by ``[removed]``."""
        return self._pattern.sub(REDACTED, value) if self._pattern else value
