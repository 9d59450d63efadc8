"""The use cases: discovery, one hook evaluation (gather -> normalise -> evaluate -> render -> audit), feedback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from cds_service.cdshooks.discovery import discovery_document
from cds_service.cdshooks.intake import first_error, parse_hook_request
from cds_service.cdshooks.models import (
    Card,
    CdsResponse,
    Discovery,
    FeedbackRequest,
    HookRequest,
)
from cds_service.cdshooks.registry import HookRegistry, HookSpec, TriggerScope
from cds_service.clinical import medications as meds
from cds_service.clinical.conditions import PatientContext
from cds_service.clinical.types import (
    DataGap,
    JsonObject,
    KetamineOrder,
    MedicationData,
    MedicationFact,
)
from cds_service.errors import (
    CdsError,
    DataUnavailable,
    FeedbackInvalid,
    InternalError,
)
from cds_service.logs import correlation
from cds_service.render.cards import CallContext, CardRenderer
from cds_service.render.patient import PatientPlan
from cds_service.render.profiles import Profile
from cds_service.rules.engine import evaluate, evaluate_shadow
from cds_service.rules.findings import Evaluation
from cds_service.rules.holds import retimed
from cds_service.rules.knowledge import CompiledKnowledgeBase
from cds_service.rules.patient import PatientReading
from cds_service.service.context import patient_facts, with_context_gaps
from cds_service.service.ports import Answer, MedicationSource, Observer, ServiceConfig, Worked
from cds_service.service.shadow import record_class, shadow_finding
from cds_service.store.records import AuditedCard, AuditStore, EvaluationRecord, ShadowFinding
from cds_service.store.repeats import RepeatFilter

__all__ = ["CdsService", "MedicationSource", "Observer", "ServiceConfig", "record_class"]

log = logging.getLogger("cds_service.service")


class CdsService:
    """Owns one evaluation end to end; holds no per-request state."""

    def __init__(
        self,
        config: ServiceConfig,
        kb: CompiledKnowledgeBase,
        renderer: CardRenderer,
        source: MedicationSource,
        store: AuditStore,
        *,
        registry: HookRegistry | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        observer: Observer | None = None,
        repeats: RepeatFilter | None = None,
    ) -> None:
        self.config = config
        self.kb = kb
        self.renderer = renderer
        self.source = source
        self.store = store
        self.registry = registry or HookRegistry.discover(config.service_id)
        self.clock = clock
        self.observer = observer
        self.repeats = repeats
        self._normalise_memo = meds.normalise_memo(kb.lexicon)

    # ------------------------------------------------------------ discovery

    def discovery(self) -> Discovery:
        """Each listed hook under its own id (the legacy id answers but is not listed)."""
        return discovery_document(self.registry)

    def check_service(self, service_id: str) -> None:
        """Raise ``UnknownService`` (404) for an id this service does not have."""
        self.registry.check_service(service_id)

    # ------------------------------------------------------------ evaluation

    async def evaluate(
        self, service_id: str, payload: Any, *, issuer: str | None = None
    ) -> CdsResponse:
        """Answer one hook call. Raises the domain errors that ``app.py`` maps to HTTP.

        ``issuer`` is the verified caller's JWT ``iss`` (JWT mode): which FHIR servers it may name.
        """
        self.check_service(service_id)
        call = parse_hook_request(payload, self.registry, service_id)
        spec, request = call.spec, call.request
        with correlation(request.hookInstance):
            started = time.perf_counter()
            if call.empty_reason is not None:
                log.info("answered without checking", extra={"reason": call.empty_reason})
                await self._audit(service_id, request, [], "not-checked", started)
                return CdsResponse(cards=[])
            profile = self.config.profiles.choose(request.extension_keys)
            try:
                answer = await self._cards_for(spec, request, profile, issuer)
            except DataUnavailable as exc:
                # The 412 is an outcome too: a site reviewing its audit must see these calls.
                await self._audit(service_id, request, [], "data-unavailable", started)
                self._observe(request.hook, "data-unavailable", [], [_unavailable_gap(exc)])
                raise
            except CdsError:
                raise
            except Exception as exc:
                log.exception("unexpected error", extra={"hook_instance": request.hookInstance})
                raise InternalError(request.hookInstance) from exc
            cards, outcome = answer.cards, answer.outcome
            await self._audit(service_id, request, cards, outcome, started, answer.shadow)
            self._observe(request.hook, outcome, cards, [])
            log.info(
                "evaluated",
                extra={
                    "hook": request.hook,
                    "outcome": outcome,
                    "cards": len(cards),
                    "profile": profile.name,
                },
            )
            return CdsResponse(cards=cards)

    async def _cards_for(
        self, spec: HookSpec, request: HookRequest, profile: Profile, issuer: str | None
    ) -> Answer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.deadline_seconds
        now = self.clock()
        ketamine = await self._triggers(spec, request, deadline, issuer, now)
        if not ketamine:
            return Answer([], "no-ketamine-order")
        try:
            data = await self.source.gather(
                request, deadline=deadline, issuer=issuer, context_keys=spec.context_keys
            )
        except DataUnavailable as exc:
            if self.config.on_data_unavailable != "card":
                raise
            gaps = [_unavailable_gap(exc)]
            if self.observer is not None:
                self.observer.gaps(gaps)
            return Answer([self.renderer.data_gap_card(gaps, profile)], "data-unavailable")
        answer = self._cards_from_data(spec, request, ketamine[0], data, profile, now)
        if self.repeats is not None:
            subject, filters = ketamine[0].reference, spec.filters_repeats
            cards = await self.repeats.apply(request, subject, answer.cards, filters=filters)
            answer = Answer(cards, answer.outcome, answer.shadow, answer.unchecked)
        return answer.answered()

    async def patient_plan(
        self, service_id: str, payload: Any, *, issuer: str | None = None
    ) -> PatientPlan | None:
        """The patient's plan for one hook call, through the same path as its cards; None when
        the call triggers no check. Raises what ``evaluate`` raises (412 included)."""
        self.check_service(service_id)
        call = parse_hook_request(payload, self.registry, service_id)
        if call.empty_reason is not None:
            return None
        deadline = asyncio.get_running_loop().time() + self.config.deadline_seconds
        now = self.clock()
        ketamine = await self._triggers(call.spec, call.request, deadline, issuer, now)
        if not ketamine:
            return None
        data = await self.source.gather(
            call.request, deadline=deadline, issuer=issuer, context_keys=call.spec.context_keys
        )
        reading = self._facts(data, now)
        evaluation = self._evaluation(call.spec, ketamine[0], reading.facts, now, reading.context)
        return self.renderer.patient_plan(evaluation, ketamine[0], now)

    async def _triggers(
        self,
        spec: HookSpec,
        request: HookRequest,
        deadline: float,
        issuer: str | None,
        now: datetime,
    ) -> tuple[KetamineOrder, ...]:
        references = spec.references_to_read(request.context)
        medications: dict[str, JsonObject] = {}
        if references:
            medications = await self.source.read_medications(
                request, references, deadline=deadline, issuer=issuer
            )
        scope = TriggerScope(
            lexicon=self.kb.lexicon,
            include_esketamine=self.config.include_esketamine,
            now=now,
            appointments=self.kb.appointments,
            medications=medications,
            resources=await self._trigger_resources(spec, request, deadline, issuer),
            previsit_horizon=self.config.previsit_horizon,
            checkin_horizon=self.config.checkin_horizon,
        )
        return spec.find_triggers(request.context, scope)

    async def _trigger_resources(
        self, spec: HookSpec, request: HookRequest, deadline: float, issuer: str | None
    ) -> dict[str, tuple[JsonObject, ...]]:
        """The resources a hook decides from (patient-view's appointments), read first.

        Their loss is logged and counted, never carded: without them there is nothing to say.
        """
        if not spec.trigger_keys:
            return {}
        found = await self.source.gather_keys(
            request, spec.trigger_keys, deadline=deadline, issuer=issuer
        )
        if found.context_gaps:
            missing = found.all_context_gaps
            log.info("trigger data incomplete", extra={"gaps": [g.what for g in missing]})
            if self.observer is not None:
                self.observer.gaps(missing)
        return dict(found.context)

    def _cards_from_data(
        self,
        spec: HookSpec,
        request: HookRequest,
        order: KetamineOrder,
        data: MedicationData,
        profile: Profile,
        now: datetime,
    ) -> Answer:
        worked = self.work(spec, request, order, data, profile, now)
        if self.observer is not None:
            self.observer.gaps([*worked.gaps, *data.all_context_gaps])
        shadow = self._shadow(worked.facts, order, spec.rules_hook, now)
        return Answer(worked.cards, "cards", shadow, worked.unchecked)

    def work(
        self,
        spec: HookSpec,
        request: HookRequest,
        order: KetamineOrder,
        data: MedicationData,
        profile: Profile,
        now: datetime,
    ) -> Worked:
        """Gathered data to facts, evaluation, gaps and cards; nothing audited or counted (explain
        uses it too, so its trace is of the very cards a hook call answers)."""
        reading = self._facts(data, now)
        facts = reading.facts
        evaluation = self._evaluation(spec, order, facts, now, reading.context)
        gaps = [*data.gaps, *self._failure_gaps(evaluation)]
        evaluation = with_context_gaps(self.kb, data, evaluation)
        # Relative wording ("stopped 2 days ago") is measured from the infusion start, else from now.
        call = CallContext(
            patient_id=request.context.patientId,
            now=now,
            profile=profile,
            user_id=request.context.userId,
            encounter_id=request.context.encounterId,
            delivery=spec.patient_delivery,
        )
        cards = self.renderer.cards(evaluation, order, gaps, call)
        entries = reading.unrecognised
        unchecked = self.renderer.unchecked_card(entries, profile) if entries else None
        return Worked(facts, evaluation, tuple(gaps), cards, unchecked)

    def _shadow(
        self, facts: Sequence[MedicationFact], order: KetamineOrder, hook: str, now: datetime
    ) -> tuple[ShadowFinding, ...]:
        """What the shadow rules would have shown: audited only. A failure is logged, never a card
        (a shadow rule must not change what the EHR receives)."""
        if not self.kb.shadow_rules:
            return ()
        shadow = evaluate_shadow(self.kb, facts, order, hook=hook, now=now)
        for failure in shadow.failures:
            log.error("shadow rule evaluation failed", extra={"failure": failure})
        return tuple(shadow_finding(finding) for finding in shadow.findings)

    def _facts(self, data: MedicationData, now: datetime) -> PatientReading:
        return patient_facts(self.kb, data, now, self._normalise_memo)

    def _evaluation(
        self,
        spec: HookSpec,
        order: KetamineOrder,
        facts: Sequence[MedicationFact],
        now: datetime,
        patient: PatientContext,
    ) -> Evaluation:
        evaluation = evaluate(self.kb, facts, order, hook=spec.rules_hook, now=now, patient=patient)
        # Holds sit on the first session's clock (its end, when an appointment gives one).
        return retimed(evaluation, order.moments[0])

    def _failure_gaps(self, evaluation: Evaluation) -> list[DataGap]:
        # A rule that failed is a class we could not check: say so on a card, never stay silent.
        for failure in evaluation.failures:
            log.error("rule evaluation failed", extra={"failure": failure})
        return [
            DataGap(what=f"Interaction check {failure.split(':', 1)[0]}", reason="internal error")
            for failure in evaluation.failures
        ]

    async def _audit(
        self,
        service_id: str,
        request: HookRequest,
        cards: list[Card],
        outcome: str,
        started: float,
        shadow: tuple[ShadowFinding, ...] = (),
    ) -> None:
        record = EvaluationRecord(
            hook_instance=request.hookInstance,
            service_id=service_id,
            hook=request.hook,
            evaluated_at=self.clock(),
            outcome=outcome,
            kb_version=self.kb.manifest.version,
            kb_digest=self.kb.digest,
            cards=tuple(self._audited(card) for card in cards),
            duration_ms=(time.perf_counter() - started) * 1000,
            shadow=shadow,
        )
        await self.store.record_evaluation(record)

    def _audited(self, card: Card) -> AuditedCard:
        topic = card.source.topic.code if card.source.topic else "UNKNOWN"
        version = self.kb.rule_version(topic)
        return AuditedCard(
            uuid=card.uuid, topic=topic, indicator=card.indicator, rule_version=version
        )

    # ------------------------------------------------------------ feedback

    async def feedback(self, service_id: str, payload: Any) -> int:
        """Validate and store feedback idempotently; returns how many items were new."""
        self.check_service(service_id)
        try:
            request = FeedbackRequest.model_validate(payload)
        except ValueError as exc:
            raise _feedback_error(exc) from exc
        added = await self.store.record_feedback(service_id, request.feedback)
        await self._observe_feedback(request)
        return added

    def _observe(
        self, hook: str, outcome: str, cards: Sequence[Card], gaps: Sequence[DataGap]
    ) -> None:
        if self.observer is not None:
            self.observer.evaluated(hook, outcome, cards)
            if gaps:
                self.observer.gaps(gaps)

    async def _observe_feedback(self, request: FeedbackRequest) -> None:
        if self.observer is None:
            return
        try:
            topics = await self.store.card_topics([item.card for item in request.feedback])
        except CdsError:  # already stored: the count is only less precise
            topics = {}
        for item in request.feedback:
            self.observer.feedback_stored(topics.get(item.card, "unknown"), item.outcome)


def _unavailable_gap(exc: DataUnavailable) -> DataGap:
    return DataGap(what="Medication lists", reason=exc.message)


def _feedback_error(exc: ValueError) -> FeedbackInvalid:
    if isinstance(exc, ValidationError) and exc.errors():
        field, message = first_error(exc.errors())
        return FeedbackInvalid(f"Feedback: {message}", field=field)
    return FeedbackInvalid("Invalid feedback body")
