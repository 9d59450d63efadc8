"""The hook registry: every hook the service answers is one module of ``cdshooks.hooks``.

A hook module declares a ``HOOK = HookSpec(...)``: its name, its context model, how the context is
prepared before validation (legacy shapes), which orders in it trigger the checks, the rule hook its
cards follow, and how it is listed in discovery. Adding a hook is adding a module; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cds_service.cdshooks.models import HookContext
from cds_service.clinical.lexicon import Lexicon
from cds_service.clinical.types import JsonObject, KetamineOrder

ContextPreparer = Callable[[dict[str, Any]], dict[str, Any]]
TriggerFinder = Callable[[Any, Lexicon, Mapping[str, JsonObject], bool], tuple[KetamineOrder, ...]]
ReferenceFinder = Callable[[Any], tuple[str, ...]]


def _unchanged(context: dict[str, Any]) -> dict[str, Any]:
    return context


def _no_references(_context: Any) -> tuple[str, ...]:
    return ()


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
    # The ketamine infusion orders (or, later, appointments) in the context; (context, lexicon,
    # Medications read for references, include_esketamine) -> the triggers, empty when none.
    find_triggers: TriggerFinder
    # Medication references the triggers may need read from the FHIR server first.
    references_to_read: ReferenceFinder = _no_references
    prepare: ContextPreparer = _unchanged  # raises HookRequestInvalid for a context it refuses
    listing: Listing | None = None
    prefetch_keys: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class HookRegistry:
    """Every hook module's spec, by hook name."""

    hooks: Mapping[str, HookSpec]

    @classmethod
    def discover(cls) -> HookRegistry:
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
        return cls(hooks=MappingProxyType(specs))

    def get(self, name: str) -> HookSpec | None:
        """The spec of a hook, or None when no module serves it."""
        return self.hooks.get(name)

    @property
    def listings(self) -> tuple[tuple[HookSpec, Listing], ...]:
        """The hooks published in discovery with their listing, in a stable order."""
        return tuple((s, s.listing) for s in self.hooks.values() if s.listing is not None)
