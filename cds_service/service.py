"""The use cases: discovery, one hook evaluation (gather -> normalise -> evaluate -> render -> audit), feedback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from cds_service.cdshooks import prefetch
from cds_service.clinical import medications as meds
from cds_service.clinical import orders
from cds_service.store.sqlite import AuditedCard, AuditStore, EvaluationRecord
from cds_service.clinical.types import DataGap, JsonObject, KetamineOrder, MedicationData
from cds_service.errors import (
    CdsError,
    DataUnavailable,
    FeedbackInvalid,
    InternalError,
    UnknownService,
)
from cds_service.cdshooks.models import (
    HOOK_ORDER_SELECT,
    HOOK_ORDER_SIGN,
    Card,
    CdsResponse,
    Discovery,
    FeedbackRequest,
    HookRequest,
    ServiceDescriptor,
)
from cds_service.cdshooks.intake import first_error, parse_hook_request
from cds_service.clinical.lexicon import Lexicon
from cds_service.logs import correlation
from cds_service.render.cards import RenderOptions, render_cards, render_data_gap_card
from cds_service.rules.engine import Evaluation, SitePolicy, evaluate
from cds_service.rules.knowledge import KnowledgeBase

log = logging.getLogger("cds_service.service")

DESCRIPTION = (
    "Checks the patient's medications (MedicationStatement and MedicationRequest) when an IV ketamine "
    "infusion is ordered, and returns advisory cards: hold windows before the infusion (benzodiazepines, "
    "lamotrigine, Z-drugs) and review or monitoring advice for other interacting classes. Advisory only; "
    "never advises stopping a benzodiazepine abruptly."
)
USAGE = (
    "Send order-select and order-sign with context.draftOrders. Prefetch the templates below or give "
    "fhirServer (https) and fhirAuthorization so the service can read the medications itself; it answers "
    "412 when it cannot read any medication list."
)


class MedicationSource(Protocol):
    """Where medications come from (``fhir.MedicationGatherer``); a Protocol so tests can swap it."""

    async def gather(self, request: HookRequest, *, deadline: float) -> MedicationData: ...

    async def read_medications(
        self, request: HookRequest, references: Sequence[str], *, deadline: float
    ) -> dict[str, JsonObject]: ...


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The settings the use cases read, passed down from the composition root."""

    service_id: str
    include_esketamine: bool
    on_data_unavailable: str  # "412" | "card"
    deadline_seconds: float
    render: RenderOptions
    policy: SitePolicy


class CdsService:
    """Owns one evaluation end to end; holds no per-request state."""

    def __init__(
        self,
        config: ServiceConfig,
        kb: KnowledgeBase,
        lexicon: Lexicon,
        source: MedicationSource,
        store: AuditStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.kb = kb
        self.lexicon = lexicon
        self.source = source
        self.store = store
        self.clock = clock
        self._rule_versions = {rule.id: rule.version for rule in kb.rules}

    # ------------------------------------------------------------ discovery

    def discovery(self) -> Discovery:
        """One id listed for order-select and order-sign: sign-time cards replace select-time ones."""
        title = "Ketamine infusion: concomitant medication check"
        return Discovery(
            services=[
                ServiceDescriptor(
                    hook=hook,
                    title=title,
                    description=DESCRIPTION,
                    id=self.config.service_id,
                    prefetch=dict(prefetch.TEMPLATES),
                    usageRequirements=USAGE,
                )
                for hook in (HOOK_ORDER_SELECT, HOOK_ORDER_SIGN)
            ]
        )

    def check_service(self, service_id: str) -> None:
        if service_id != self.config.service_id:
            raise UnknownService(f"No CDS service with id '{service_id[:64]}'")

    # ------------------------------------------------------------ evaluation

    async def evaluate(self, service_id: str, payload: Any) -> CdsResponse:
        """Answer one hook call. Raises the domain errors that ``app.py`` maps to HTTP."""
        self.check_service(service_id)
        request = parse_hook_request(payload)
        with correlation(request.hookInstance):
            started = time.perf_counter()
            try:
                cards, outcome = await self._cards_for(request)
            except DataUnavailable:
                # The 412 is an outcome too: a site reviewing its audit must see these calls.
                await self._audit(request, [], "data-unavailable", started)
                raise
            except CdsError:
                raise
            except Exception as exc:
                log.exception("unexpected error", extra={"hook_instance": request.hookInstance})
                raise InternalError(request.hookInstance) from exc
            await self._audit(request, cards, outcome, started)
            log.info(
                "evaluated",
                extra={"hook": request.hook, "outcome": outcome, "cards": len(cards)},
            )
            return CdsResponse(cards=cards)

    async def _cards_for(self, request: HookRequest) -> tuple[list[Card], str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.deadline_seconds
        ketamine = await self._ketamine_orders(request, deadline)
        if not ketamine:
            return [], "no-ketamine-order"
        try:
            data = await self.source.gather(request, deadline=deadline)
        except DataUnavailable as exc:
            if self.config.on_data_unavailable != "card":
                raise
            gaps = [DataGap(what="Medication lists", reason=exc.message)]
            options = self._render_options(request, self.clock())
            return [render_data_gap_card(gaps, self.kb, options)], "data-unavailable"
        return self._cards_from_data(request, ketamine[0], data), "cards"

    async def _ketamine_orders(
        self, request: HookRequest, deadline: float
    ) -> tuple[KetamineOrder, ...]:
        draft = request.context.draftOrders
        selections = request.context.selections
        references = orders.unresolved_medication_references(draft, selections)
        medications: dict[str, JsonObject] = {}
        if references:
            medications = await self.source.read_medications(request, references, deadline=deadline)
        return orders.find_ketamine_orders(
            draft,
            selections,
            self.lexicon,
            include_esketamine=self.config.include_esketamine,
            medications=medications,
        )

    def _cards_from_data(
        self, request: HookRequest, order: KetamineOrder, data: MedicationData
    ) -> list[Card]:
        facts = meds.normalise(data.resources, self.lexicon, data.medications)
        now = self.clock()
        evaluation = evaluate(
            self.kb, facts, order, hook=request.hook, now=now, policy=self.config.policy
        )
        gaps = [*data.gaps, *self._failure_gaps(evaluation)]
        return render_cards(evaluation, order, gaps, self.kb, self._render_options(request, now))

    def _failure_gaps(self, evaluation: Evaluation) -> list[DataGap]:
        # A rule that failed is a class we could not check: say so on a card, never stay silent.
        for failure in evaluation.failures:
            log.error("rule evaluation failed", extra={"failure": failure})
        return [
            DataGap(what=f"Interaction check {failure.split(':', 1)[0]}", reason="internal error")
            for failure in evaluation.failures
        ]

    def _render_options(self, request: HookRequest, now: datetime) -> RenderOptions:
        # Relative wording on cards ("stopped 2 days ago") is computed against the evaluation time.
        return replace(self.config.render, patient_id=request.context.patientId, now=now)

    async def _audit(
        self, request: HookRequest, cards: list[Card], outcome: str, started: float
    ) -> None:
        record = EvaluationRecord(
            hook_instance=request.hookInstance,
            service_id=self.config.service_id,
            hook=request.hook,
            evaluated_at=self.clock(),
            outcome=outcome,
            kb_version=self.kb.manifest.version,
            kb_digest=self.kb.digest,
            cards=tuple(self._audited(card) for card in cards),
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        await self.store.record_evaluation(record)

    def _audited(self, card: Card) -> AuditedCard:
        topic = card.source.topic.code if card.source.topic else "UNKNOWN"
        version = self._rule_versions.get(topic, 0)
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
        return await self.store.record_feedback(service_id, request.feedback)


def _feedback_error(exc: ValueError) -> FeedbackInvalid:
    if isinstance(exc, ValidationError) and exc.errors():
        field, message = first_error(exc.errors())
        return FeedbackInvalid(f"Feedback: {message}", field=field)
    return FeedbackInvalid("Invalid feedback body")
