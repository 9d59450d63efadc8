"""FHIR server URLs: origins and bases, which links stay on the server, and what may be logged of a URL."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urljoin, urlsplit


def resolve(url: str, base: str) -> str | None:
    """A possibly relative link, made absolute against the FHIR base; None when it is no URL."""
    try:
        return urljoin(base + "/", url)
    except ValueError:  # e.g. an unclosed IPv6 literal
        return None


def same_origin(url: str, base: str) -> bool:
    """Same scheme, host and port: the only URLs the request's token may be sent to."""
    try:
        a, b = urlsplit(url), urlsplit(base)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port) and bool(a.hostname)
    except ValueError:  # a bad port or IPv6 literal: no origin at all
        return False


def host_and_path(url: str) -> str:
    """What may be logged about a URL: never the query string (it carries the patient id)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(not a URL)"
    return f"{parts.hostname or '?'}{parts.path}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_DEFAULT_PORTS = {"https": 443, "http": 80}


def under_base(url: str, base: str) -> bool:
    """``url`` is ``base`` or below it: same scheme, host and (default-normalised) port, path by segments."""
    a, b = urlsplit(url), urlsplit(base)
    if not a.hostname or origin(url) != origin(base):
        return False
    prefix = b.path.rstrip("/")
    return a.path.rstrip("/") == prefix or a.path.startswith(prefix + "/")


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, lower-case host and port (the scheme's default when none is written)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def base_problem(url: str) -> str | None:
    """What keeps ``url`` from being a FHIR base this service may call, or None when it is one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "fhirServer is not an http(s) URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "fhirServer is not an http(s) URL"
    if not _is_host(parts.hostname):
        return "fhirServer's host is not a DNS name or an IP address"
    if parts.username is not None or parts.query or parts.fragment:
        return "fhirServer must be a plain base URL (no credentials, query or fragment)"
    return None


_DNS_NAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?$")


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return len(host) <= 253 and _DNS_NAME.match(host) is not None
