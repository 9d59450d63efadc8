"""FHIR server URLs: which bases may receive the patient's token, and what may be logged of a URL."""

from __future__ import annotations

import ipaddress
from urllib.parse import urljoin, urlsplit


def resolve(url: str, base: str) -> str:
    """A possibly relative link, made absolute against the FHIR base."""
    return urljoin(base + "/", url)


def same_origin(url: str, base: str) -> bool:
    """Same scheme, host and port: the only URLs the request's token may be sent to."""
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port) and bool(a.hostname)


def host_and_path(url: str) -> str:
    """What may be logged about a URL: never the query string (it carries the patient id)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}{parts.path}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal_reason(fhir_server: str, *, allow_insecure: bool) -> str | None:
    """Why ``fhir_server`` must not receive the patient's token, or None when it may."""
    parts = urlsplit(fhir_server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "fhirServer is not an http(s) URL"
    if parts.scheme == "https" or allow_insecure or is_loopback(parts.hostname):
        return None
    # CDS Hooks: fhirServer must be https when real data travels; plain http only on loopback for testing.
    return "fhirServer is not https (plain http is only allowed for loopback addresses)"
