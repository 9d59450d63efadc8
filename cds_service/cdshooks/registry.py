"""The hook registry: every hook the service answers is one module of ``cdshooks.hooks``.

A hook module declares a ``HOOK = HookSpec(...)``: its name, the service id it is listed under, its
context model, how the context is prepared before validation (legacy shapes), which orders in it
trigger the checks, the rule hook its cards follow, and how it is listed in discovery. Adding a hook
is adding a module; nothing else changes.

Service ids: each listed hook has its own id, listed once (clients such as the CDS Hooks Sandbox keep
one service per id, so two hooks under one id lose one of them). The legacy id (``CDS_SERVICE_ID``)
is not listed but still answers the hooks that declare ``on_legacy_id`` for existing registrations.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

from cds_service.cdshooks.models import HookContext
from cds_service.clinical.appointments import AppointmentVocabulary
from cds_service.clinical.lexicon import Lexicon
from cds_service.clinical.types import JsonObject, KetamineOrder
from cds_service.errors import HookNotServed, UnknownService


@dataclass(frozen=True, slots=True)
class TriggerScope:
    """What a hook's trigger finder may read besides its context: the vocabularies, the Medications
    read for references, the clock, the horizons, and the resources of its ``trigger_keys``."""

    lexicon: Lexicon
    include_esketamine: bool
    now: datetime
    appointments: AppointmentVocabulary = field(default_factory=AppointmentVocabulary)
    medications: Mapping[str, JsonObject] = field(default_factory=dict)
    resources: Mapping[str, tuple[JsonObject, ...]] = field(default_factory=dict)
    previsit_horizon: timedelta = timedelta(days=7)
    checkin_horizon: timedelta = timedelta(hours=24)


ContextPreparer = Callable[[dict[str, Any]], dict[str, Any]]
# (context, scope) -> the triggers (ketamine orders, or one trigger carrying the infusion sessions).
TriggerFinder = Callable[[Any, TriggerScope], tuple[KetamineOrder, ...]]
# How the patient's instructions are offered on this hook's cards (the spec profile): an update
# of the booked Appointment, a CommunicationRequest to the patient, or not at all.
PatientDelivery = Literal["appointment", "communication", "none"]
ReferenceFinder = Callable[[Any], tuple[str, ...]]
EmptyReason = Callable[[dict[str, Any]], str | None]
LEGACY_SERVICE_ID = "ketamine-infusion-check"


def _unchanged(context: dict[str, Any]) -> dict[str, Any]:
    return context


def _no_references(_context: Any) -> tuple[str, ...]:
    return ()


def _always_checked(_context: dict[str, Any]) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Listing:
    """How a hook appears in discovery (left out of discovery when a hook module has none)."""

    title: str
    description: str
    usage: str


@dataclass(frozen=True, slots=True)
class HookSpec:
    """One hook: what its context is and what in it is a ketamine infusion to check."""

    name: str  # the ``hook`` value of a request, e.g. "order-sign"
    context_model: type[HookContext]
    # Which rules apply: a rule lists the hooks it fires on (legacy hooks map onto current ones).
    rules_hook: str
    # The ketamine infusion orders, or the infusion appointments, of a call; empty when none.
    find_triggers: TriggerFinder
    # Medication references the triggers may need read from the FHIR server first.
    references_to_read: ReferenceFinder = _no_references
    prepare: ContextPreparer = _unchanged  # raises HookRequestInvalid for a context it refuses
    # A client quirk answered with no cards rather than an error: returns why, or None to check.
    answer_empty: EmptyReason = _always_checked
    service_id: str | None = None  # the id this hook is listed and served under
    on_legacy_id: bool = False  # also answered on the unlisted legacy id
    listing: Listing | None = None
    prefetch_keys: tuple[str, ...] = field(default=())
    # Keys read beside the medications (cdshooks.prefetch.CONTEXT_KEYS) whose loss is only a gap.
    context_keys: tuple[str, ...] = field(default=())
    # Keys read BEFORE the medications, to decide whether to check at all (patient-view reads the
    # appointments first): their resources reach the trigger finder; the medications are read only
    # when it finds a trigger. A key that cannot be read is no trigger, never a 412.
    trigger_keys: tuple[str, ...] = field(default=())
    patient_delivery: PatientDelivery = "communication"
    # Leaves out cards already announced at an earlier moment (store.repeats; CDS_REPEAT_FILTER).
    filters_repeats: bool = False


@dataclass(frozen=True, slots=True)
class HookRegistry:
    """Every hook module's spec, by hook name, and which service ids serve which hooks."""

    hooks: Mapping[str, HookSpec]
    legacy_id: str = LEGACY_SERVICE_ID

    @classmethod
    def discover(cls, legacy_id: str = LEGACY_SERVICE_ID) -> HookRegistry:
        """Import every module of ``cdshooks.hooks`` and collect its ``HOOK``."""
        from cds_service.cdshooks import hooks as package

        specs: dict[str, HookSpec] = {}
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            spec = getattr(module, "HOOK", None)
            if not isinstance(spec, HookSpec):
                raise TypeError(f"{module.__name__} declares no HOOK = HookSpec(...)")
            if spec.name in specs:
                raise TypeError(f"{module.__name__}: hook {spec.name!r} is declared twice")
            specs[spec.name] = spec
        registry = cls(hooks=MappingProxyType(specs), legacy_id=legacy_id)
        registry._check_ids()
        return registry

    def _check_ids(self) -> None:
        ids = [spec.service_id for spec in self.hooks.values() if spec.service_id]
        duplicates = sorted({i for i in ids if ids.count(i) > 1} | ({self.legacy_id} & set(ids)))
        if duplicates:
            raise TypeError(f"service id {duplicates[0]!r} is declared for more than one hook")

    def get(self, name: str) -> HookSpec | None:
        """The spec of a hook, or None when no module serves it."""
        return self.hooks.get(name)

    def serves(self, service_id: str) -> bool:
        """Whether ``service_id`` is one of ours (a listed id or the legacy one)."""
        return service_id == self.legacy_id or any(
            spec.service_id == service_id for spec in self.hooks.values()
        )

    def check_service(self, service_id: str) -> None:
        """Raise ``UnknownService`` for an id this service does not have."""
        if not self.serves(service_id):
            raise UnknownService(f"No CDS service with id '{service_id[:64]}'")

    def spec_for(self, service_id: str, hook: str) -> HookSpec:
        """The spec of ``hook`` when ``service_id`` serves it; ``HookNotServed`` otherwise."""
        spec = self.hooks.get(hook)
        if spec is not None and self._answers(service_id, spec):
            return spec
        message = f"The service '{service_id[:64]}' does not serve the hook '{hook[:64]}'"
        if spec is not None and spec.service_id:
            message += f"; it is served at /cds-services/{spec.service_id}"
        raise HookNotServed(message, field="hook")

    def _answers(self, service_id: str, spec: HookSpec) -> bool:
        return spec.service_id == service_id or (spec.on_legacy_id and service_id == self.legacy_id)

    @property
    def listings(self) -> tuple[tuple[HookSpec, Listing], ...]:
        """The hooks published in discovery with their listing, in a stable order."""
        return tuple(
            (s, s.listing) for s in self.hooks.values() if s.listing is not None and s.service_id
        )
