"""Which network addresses a FHIR request may connect to, judged after DNS resolution (no I/O here)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services hand out cloud credentials: never a FHIR server, even when listed.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public address)
        "192.0.0.192",  # Oracle Cloud (legacy)
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Kind(Enum):
    """What an address is, as far as calling it is concerned."""

    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"  # RFC 1918, unique-local, shared (CGNAT) and other non-global ranges
    LINK_LOCAL = "link-local"
    NEVER = "never"  # metadata, unspecified, multicast, reserved: refused even when listed


@dataclass(frozen=True, slots=True)
class AddressRule:
    """Beyond public addresses, what one FHIR base may resolve to."""

    private: bool = False  # private and link-local: only for bases a site listed
    loopback: bool = False  # listed bases, or local development (CDS_AUTH=off on loopback, no list)


def kind(address: Address) -> Kind:
    """Classify ``address``; an IPv6 address that embeds an IPv4 one is judged by the IPv4 one too."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _plain_kind(address.ipv4_mapped)  # the IPv4 address itself, in IPv6 notation
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return _worst(_plain_kind(address), _plain_kind(embedded))
    return _plain_kind(address)


def refusal(address: Address, rule: AddressRule) -> str | None:
    """Why ``address`` may not be connected to under ``rule`` (a short reason for the log), or None."""
    found = kind(address)
    allowed = {
        Kind.PUBLIC: True,
        Kind.LOOPBACK: rule.loopback,
        Kind.PRIVATE: rule.private,
        Kind.LINK_LOCAL: rule.private,
        Kind.NEVER: False,
    }[found]
    return None if allowed else f"{found.value} address"


def _plain_kind(address: Address) -> Kind:
    if address in METADATA or address.is_unspecified or address.is_multicast:
        return Kind.NEVER
    if address.is_loopback:
        return Kind.LOOPBACK
    if address.is_link_local:
        return Kind.LINK_LOCAL
    if address.is_reserved and not _is_nat64(address):
        return Kind.NEVER
    return Kind.PUBLIC if address.is_global else Kind.PRIVATE


_SEVERITY = (Kind.PUBLIC, Kind.LOOPBACK, Kind.PRIVATE, Kind.LINK_LOCAL, Kind.NEVER)


def _worst(a: Kind, b: Kind) -> Kind:
    return max(a, b, key=_SEVERITY.index)


def _is_nat64(address: Address) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address in _NAT64


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches through a translator: NAT64, 6to4 or Teredo."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None
