"""What the authenticator is configured with: the trusted issuers and the token policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator


class TrustedIssuer(BaseModel):
    """One EHR (JWT issuer) allowed to call the service; exactly one of jwks_url / jwks_file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jwks_url: str | None = None
    jwks_file: Path | None = None
    jku_allowlist: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    # The FHIR bases this issuer's requests may name as fhirServer (empty: CDS_FHIR_ALLOWLIST applies).
    fhir_servers: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_key_source(self) -> TrustedIssuer:
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError("give exactly one of jwks_url or jwks_file")
        return self


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """The token policy, from the settings (``CDS_TRUSTED_ISSUERS``, ``CDS_JWT_*``...)."""

    issuers: Mapping[str, TrustedIssuer] = field(default_factory=dict)
    algorithms: tuple[str, ...] = ("ES384", "RS384")
    clock_skew_seconds: float = 60.0
    jwks_min_refresh_seconds: float = 60.0
    replay_cache_max_entries: int = 100_000
