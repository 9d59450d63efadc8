"""The discovery document: each listed hook of the registry under its own service id, with its prefetch."""

from __future__ import annotations

from cds_service.cdshooks.models import Discovery, ServiceDescriptor
from cds_service.cdshooks.prefetch import TEMPLATES
from cds_service.cdshooks.registry import HookRegistry


def discovery_document(registry: HookRegistry) -> Discovery:
    """One entry per listed hook, each id once; templates use only 2.0.1 root-level tokens."""
    services = []
    for spec, listing in registry.listings:
        services.append(
            ServiceDescriptor(
                hook=spec.name,
                title=listing.title,
                description=listing.description,
                id=str(spec.service_id),
                prefetch={key: TEMPLATES[key] for key in spec.prefetch_keys} or None,
                usageRequirements=listing.usage,
            )
        )
    return Discovery(services=services)
