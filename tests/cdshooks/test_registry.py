"""The hook registry: which service id serves which hook, and ids that collide are refused."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from cds_service.cdshooks.registry import HookRegistry
from cds_service.errors import HookNotServed, UnknownService


def test_registry_maps_each_listed_id_to_its_one_hook() -> None:
    registry = HookRegistry.discover()
    assert registry.spec_for("ketamine-infusion-order-sign", "order-sign").name == "order-sign"
    with pytest.raises(HookNotServed):
        registry.spec_for("ketamine-infusion-order-sign", "medication-prescribe")


def test_registry_legacy_id_serves_the_hooks_that_ask_for_it() -> None:
    registry = HookRegistry.discover("legacy")
    served = [h for h in registry.hooks if registry.serves("legacy") and _served(registry, h)]
    assert sorted(served) == ["medication-prescribe", "order-select", "order-sign"]


def _served(registry: HookRegistry, hook: str) -> bool:
    try:
        registry.spec_for("legacy", hook)
    except HookNotServed:
        return False
    return True


def test_registry_unknown_id_is_unknown_service() -> None:
    with pytest.raises(UnknownService):
        HookRegistry.discover().check_service("nope")


def test_registry_refuses_a_legacy_id_equal_to_a_listed_one() -> None:
    with pytest.raises(TypeError, match="ketamine-infusion-order-sign"):
        HookRegistry.discover("ketamine-infusion-order-sign")


def test_registry_refuses_two_hooks_under_one_id() -> None:
    hooks = dict(HookRegistry.discover().hooks)
    hooks["order-select"] = replace(
        hooks["order-select"], service_id="ketamine-infusion-order-sign"
    )
    registry = HookRegistry(hooks=MappingProxyType(hooks))
    with pytest.raises(TypeError, match="more than one hook"):
        registry._check_ids()
