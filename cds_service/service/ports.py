"""What the use cases are given: where medications come from, who counts, and their settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from cds_service.cdshooks.models import Card, HookRequest
from cds_service.clinical.types import DataGap, JsonObject, MedicationData
from cds_service.render.profiles import ProfileChoice, build_profiles


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
