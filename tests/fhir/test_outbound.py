"""The outbound allowlist by URL: which fhirServer bases a caller may name, and over which scheme."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cds_service.app import outbound_policy
from cds_service.fhir.addresses import AddressRule
from cds_service.fhir.outbound import NOT_HTTPS, NOT_LISTED, OutboundPolicy, Target
from cds_service.settings import Settings

LOCAL = OutboundPolicy(local_loopback=True)  # CDS_AUTH=off on loopback, no list configured
EHR = "https://ehr.example.org/fhir"


@pytest.mark.parametrize(
    ("server", "allowed"),
    [
        ("https://ehr.example.org/fhir", True),
        ("http://127.0.0.1:8080/fhir", True),
        ("http://127.8.9.10/fhir", True),
        ("http://localhost/fhir", True),
        ("http://[::1]/fhir", True),
        ("http://ehr.example.org/fhir", False),
        ("http://10.0.0.5/fhir", False),
        ("ftp://ehr.example.org/fhir", False),
        ("not a url", False),
        ("https://user:secret@ehr.example.org/fhir", False),
        ("https://ehr.example.org/fhir?_format=json", False),
        ("https://ehr.example.org:99999/fhir", False),
        ("http://[::1", False),
        ("https://exa mple.org/fhir", False),
        ("https://\x00/fhir", False),
        ("https://-ehr.example.org/fhir", False),
        ("https://[fe80::1%25eth0]/fhir", True),  # a scoped IPv6 literal: refused by address
        ("https://EHR-1.Example.org./fhir", True),
    ],
)
def test_target_in_local_development_allows_https_and_loopback_only(
    server: str, allowed: bool
) -> None:
    assert isinstance(LOCAL.target(server), Target) is allowed


def test_target_in_local_development_lets_loopback_but_not_private_addresses_resolve() -> None:
    assert LOCAL.target(EHR) == Target(EHR, AddressRule(private=False, loopback=True))


def test_target_without_local_development_refuses_plain_http_to_loopback() -> None:
    assert OutboundPolicy().target("http://127.0.0.1:8080/fhir") == NOT_HTTPS


def test_target_without_a_list_allows_public_addresses_only() -> None:
    assert OutboundPolicy().target(EHR) == Target(EHR, AddressRule(private=False, loopback=False))


def test_target_when_insecure_allowed_still_refuses_plain_http_to_an_unlisted_host() -> None:
    policy = OutboundPolicy(allow_insecure=True)

    assert policy.target("http://ehr.internal/fhir") == NOT_HTTPS


def test_target_when_insecure_allowed_and_listed_allows_plain_http() -> None:
    policy = OutboundPolicy(site=("http://ehr.internal/fhir",), allow_insecure=True)

    target = policy.target("http://ehr.internal/fhir/")

    assert target == Target("http://ehr.internal/fhir", AddressRule(private=True, loopback=True))


@pytest.mark.parametrize(
    ("server", "allowed"),
    [
        ("https://ehr.example.org/fhir", True),
        ("https://EHR.example.org:443/fhir/", True),
        ("https://ehr.example.org/fhir/R4", True),
        ("https://ehr.example.org/fhirx", False),
        ("https://ehr.example.org/other", False),
        ("https://ehr.example.org:8443/fhir", False),
        ("https://other.example.org/fhir", False),
        ("http://127.0.0.1:8080/fhir", False),  # a list switches local development off
    ],
)
def test_target_with_a_site_list_allows_only_listed_bases(server: str, allowed: bool) -> None:
    policy = OutboundPolicy(site=(EHR,))

    assert isinstance(policy.target(server), Target) is allowed


def test_target_with_a_site_list_lets_listed_names_resolve_to_private_addresses() -> None:
    assert OutboundPolicy(site=(EHR,)).target(EHR) == Target(
        EHR, AddressRule(private=True, loopback=True)
    )


def test_target_for_an_issuer_with_its_own_list_uses_that_list_only() -> None:
    other = "https://other.example.org/fhir"
    policy = OutboundPolicy(site=(other,), per_issuer={"https://iss.example": (EHR,)})

    assert isinstance(policy.target(EHR, "https://iss.example"), Target)
    assert policy.target(other, "https://iss.example") == NOT_LISTED
    assert policy.target(EHR, "https://another-iss.example") == NOT_LISTED
    assert isinstance(policy.target(other, "https://another-iss.example"), Target)


# ---------------------------------------------------------------- from the settings


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_outbound_policy_unauthenticated_with_no_list_is_local_development() -> None:
    assert outbound_policy(_settings()).local_loopback is True


@pytest.mark.parametrize(
    "values",
    [
        {"fhir_allowlist": "https://ehr.example.org/fhir"},
        {"allow_unauthenticated_public_bind": True},
        {"auth": "jwt", "trusted_issuers": {"https://iss": {"jwks_url": "https://iss/jwks"}}},
    ],
)
def test_outbound_policy_with_a_list_a_public_bind_or_jwt_is_not_local_development(
    values: dict[str, Any],
) -> None:
    assert outbound_policy(_settings(**values)).local_loopback is False


def test_outbound_policy_reads_the_site_list_and_each_issuers_servers() -> None:
    issuer = {"jwks_url": "https://iss/jwks", "fhir_servers": ["https://fhir.iss/r4"]}
    policy = outbound_policy(
        _settings(
            auth="jwt",
            fhir_allowlist="https://a.example/fhir, https://b.example/fhir",
            trusted_issuers={"https://iss": issuer},
        )
    )

    assert policy.site == ("https://a.example/fhir", "https://b.example/fhir")
    assert policy.per_issuer == {"https://iss": ("https://fhir.iss/r4",)}


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"fhir_allowlist": "ftp://ehr.example.org"}, "fhir_allowlist"),
        ({"fhir_allowlist": '["https://u:p@ehr.example.org"]'}, "fhir_allowlist"),
        (
            {"trusted_issuers": {"https://iss": {"jwks_url": "https://j", "fhir_servers": ["x"]}}},
            "fhir_servers",
        ),
    ],
)
def test_settings_refuse_an_allowlist_entry_that_is_not_a_fhir_base(
    values: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        _settings(**values)
