"""What the use cases are given (where medications come from, who counts, their settings) and what
one evaluation gives back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from cds_service.cdshooks.models import Card, HookRequest
from cds_service.clinical.types import DataGap, JsonObject, MedicationData, MedicationFact
from cds_service.render.profiles import ProfileChoice, build_profiles
from cds_service.rules.findings import Evaluation
from cds_service.store.records import ShadowFinding


class MedicationSource(Protocol):
    """Where medications come from (``fhir.MedicationGatherer``); a Protocol so tests can swap it."""

    async def gather(
        self,
        request: HookRequest,
        *,
        deadline: float,
        issuer: str | None = None,
        context_keys: Sequence[str] = (),
    ) -> MedicationData: ...

    async def read_medications(
        self,
        request: HookRequest,
        references: Sequence[str],
        *,
        deadline: float,
        issuer: str | None = None,
    ) -> dict[str, JsonObject]: ...

    async def gather_keys(
        self,
        request: HookRequest,
        keys: Sequence[str],
        *,
        deadline: float,
        issuer: str | None = None,
    ) -> MedicationData: ...


class Observer(Protocol):
    """Who counts what the use cases did (``ops.metrics.Metrics``); never given patient data."""

    def evaluated(self, hook: str, outcome: str, cards: Sequence[Card]) -> None: ...

    def gaps(self, gaps: Sequence[DataGap]) -> None: ...

    def feedback_stored(self, topic: str, outcome: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The settings the use cases read, passed down from the composition root."""

    service_id: str
    include_esketamine: bool
    on_data_unavailable: str  # "412" | "card"
    deadline_seconds: float
    profiles: ProfileChoice = field(default_factory=lambda: ProfileChoice(build_profiles()))
    # patient-view speaks only for an infusion appointment starting within this horizon.
    previsit_horizon: timedelta = timedelta(days=7)
    # encounter-start (check-in) looks at the infusion appointments starting within this horizon.
    checkin_horizon: timedelta = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Worked:
    """One evaluation of gathered data (``CdsService.work``): what the hook call answers, and what
    explain traces."""

    facts: tuple[MedicationFact, ...]
    evaluation: Evaluation
    gaps: tuple[DataGap, ...]
    cards: list[Card]
    unchecked: Card | None  # the free-text entries nothing recognised, on one info card


@dataclass(frozen=True, slots=True)
class Answer:
    """The cards of one call, its audit outcome, and what shadow rules would have added (never sent)."""

    cards: list[Card]
    outcome: str
    shadow: tuple[ShadowFinding, ...] = ()
    # The card listing unrecognised free-text entries: added after the repeat filter, whose keys
    # must never be made from that text.
    unchecked: Card | None = None

    def answered(self) -> Answer:
        """The cards as answered: the unchecked card, when any, last (it is info)."""
        extra = [self.unchecked] if self.unchecked is not None else []
        return Answer([*self.cards, *extra], self.outcome, self.shadow)
