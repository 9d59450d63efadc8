"""Which FHIR servers this service may call: the configured lists, https, and loopback for local use.

The request's ``fhirServer`` is chosen by the caller, so it is checked twice: here by URL (is it a base
this caller may name, over a scheme that keeps the token safe), and at connect time by address
(``fhir.connections``: what the name resolves to), so a name cannot lead to an internal address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cds_service.fhir import urls
from cds_service.fhir.addresses import AddressRule

NOT_LISTED = "fhirServer is not one of the FHIR servers this service may call"
NOT_HTTPS = (
    "fhirServer is not https (plain http is only allowed to loopback for local use, "
    "or to a listed server with CDS_ALLOW_INSECURE_FHIR)"
)


@dataclass(frozen=True, slots=True)
class Target:
    """A FHIR base that may be called, and the addresses its name may resolve to."""

    base: str
    rule: AddressRule


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """The outbound allowlist: per trusted issuer (JWT mode), else the site's list, else public https.

    ``local_loopback`` is true only when the service runs unauthenticated on loopback with no list
    configured (local development, the quick start and tests): then loopback servers may be called.
    """

    site: tuple[str, ...] = ()
    per_issuer: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    local_loopback: bool = False
    allow_insecure: bool = False

    def target(self, fhir_server: str, issuer: str | None = None) -> Target | str:
        """The ``Target`` for this caller's ``fhirServer``, or why it may not be called."""
        problem = urls.base_problem(fhir_server)
        if problem is not None:
            return problem
        bases = self._list_for(issuer)
        listed = bases is not None and any(urls.under_base(fhir_server, b) for b in bases)
        if bases is not None and not listed:
            return NOT_LISTED
        parts = urlsplit(fhir_server)
        loopback = listed or self.local_loopback
        if parts.scheme == "http" and not self._plain_http_ok(parts.hostname or "", listed):
            return NOT_HTTPS
        return Target(fhir_server.rstrip("/"), AddressRule(private=listed, loopback=loopback))

    def _list_for(self, issuer: str | None) -> tuple[str, ...] | None:
        """The bases that apply to this caller; None when no list is configured (public https)."""
        if issuer is not None and self.per_issuer.get(issuer):
            return self.per_issuer[issuer]
        return self.site or None

    def _plain_http_ok(self, host: str, listed: bool) -> bool:
        # CDS Hooks: fhirServer must be https when real data travels; plain http only for testing.
        if urls.is_loopback(host):
            return listed or self.local_loopback
        return listed and self.allow_insecure
