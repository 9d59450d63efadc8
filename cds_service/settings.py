"""Service settings: one frozen pydantic-settings class, environment prefix ``CDS_``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cds_service.auth.config import AuthConfig, TrustedIssuer
from cds_service.fhir.urls import base_problem
from cds_service.rules.overrides import RuleOverride

_PACKAGE_DIR = Path(__file__).resolve().parent


def default_cards_dir() -> Path:
    """The bundled knowledge base: a wheel's packaged copy, else the repository's ``cards/``."""
    bundled = _PACKAGE_DIR / "_bundled_cards"
    return bundled if bundled.is_dir() else _PACKAGE_DIR.parent / "cards"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything a site can configure. Built once in ``create_app``/the CLI and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="CDS_", env_file=".env", frozen=True, extra="ignore", validate_default=True
    )

    # --- identity and discovery
    service_id: str = Field(default="ketamine-infusion-check", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    public_base_url: str | None = None
    source_label: str = "Ketamine infusion medication check"
    source_url: str | None = None

    # --- storage and knowledge base
    data_dir: Path = Path(".cds-data")
    database_url: str | None = None
    cards_dir: Path = Field(default_factory=default_cards_dir)
    rule_overrides: dict[str, RuleOverride] = Field(default_factory=dict)
    # Longest wait for the store (a lock, a pooled connection) before feedback answers 503.
    store_timeout_seconds: float = Field(default=0.3, gt=0, le=10)
    database_pool_size: int = Field(default=10, ge=1, le=200)

    # --- operations
    metrics: bool = False

    # --- the console for rule owners (/console): off unless on, and never without its token
    console: bool = False
    console_token: SecretStr | None = None
    console_session_minutes: int = Field(default=60, ge=5, le=1440)
    # A rule version is flagged when its override rate is at least this over at least that many
    # cards with feedback.
    console_flag_override_rate: float = Field(default=0.9, gt=0, le=1)
    console_flag_min_cards: int = Field(default=50, ge=1)

    # --- clinical behaviour
    trigger_on_esketamine: bool = False
    selection_behavior: Literal["at-most-one", "any"] = "at-most-one"
    on_data_unavailable: Literal["412", "card"] = "412"
    # IANA zone for clock times on cards; unset shows them in the offset the infusion start was given in.
    timezone: str | None = None
    # patient-view speaks only for an infusion appointment starting within this many days.
    previsit_horizon_days: float = Field(default=7, ge=0, le=90)
    # encounter-start (check-in) looks at infusion appointments starting within this many hours.
    checkin_horizon_hours: float = Field(default=24, gt=0, le=72)

    # Cards shown at order-select left out at order-sign (store.repeats): off, on-request, always.
    repeat_filter: Literal["off", "on-request", "always"] = "off"
    repeat_window_hours: float = Field(default=8, gt=0, le=72)

    # --- EHR profiles and card form
    ehr_profile: Literal["spec", "epic", "oracle"] | None = (
        None  # None: spec, or epic when detected
    )
    card_detail: Literal["brief", "concise", "full"] | None = None  # None: the profile's own form
    link_allowlist: Annotated[tuple[str, ...], NoDecode] = ()
    epic_preference_list_codes: dict[
        Literal[
            "add-hold-instruction",
            "order-bp-monitoring",
            "order-spo2-monitoring",
            "patient-instruction",
        ],
        Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")],
    ] = Field(default_factory=dict)

    # --- HTTP edge and hardening
    cors_origins: Annotated[tuple[str, ...], NoDecode] = (
        "http://127.0.0.1:18080",
        "http://localhost:18080",
        "https://sandbox.cds-hooks.org",
    )
    max_body_bytes: int = Field(default=5_000_000, gt=0)
    max_json_depth: int = Field(default=64, gt=0)
    max_bundle_entries: int = Field(default=5_000, gt=0)
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    # Longer than the idle timeout of whatever pools connections to us (AWS ALB and nginx: 60 s),
    # so that the pool, not the service, closes an idle connection: a service closing it first races
    # the pool's next request on it, which then fails (a 502 at the balancer). uvicorn's own is 5 s.
    keep_alive_seconds: int = Field(default=75, ge=1)
    log_level: str = "INFO"

    # --- FHIR data access
    fhir_timeout_seconds: float = Field(default=2.0, gt=0)
    fhir_max_pages: int = Field(default=10, ge=1)
    fhir_max_connections: int = Field(default=50, ge=1)
    fhir_max_response_bytes: int = Field(default=5_000_000, gt=0)
    fhir_max_call_bytes: int = Field(default=20_000_000, gt=0)
    fhir_max_medication_reads: int = Field(default=200, ge=0)
    fhir_max_concurrent_reads: int = Field(default=8, ge=1)
    fhir_allowlist: Annotated[tuple[str, ...], NoDecode] = ()
    evaluation_deadline_seconds: float = Field(default=3.0, gt=0)
    allow_insecure_fhir: bool = False

    # --- client authentication
    auth: Literal["off", "jwt"] = "off"
    allow_unauthenticated_public_bind: bool = False
    trusted_issuers: dict[str, TrustedIssuer] = Field(default_factory=dict)
    jwt_algorithms: Annotated[tuple[str, ...], NoDecode] = ("ES384", "RS384")
    jwt_clock_skew_seconds: int = Field(default=60, ge=0, le=600)
    jwks_min_refresh_seconds: float = Field(default=60.0, ge=0)
    replay_cache_max_entries: int = Field(default=100_000, gt=0)
    # "store": JWT ids shared by every replica through the store; unset: "store" on PostgreSQL.
    replay_cache: Literal["memory", "store"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            data = dict(data)  # never change the caller's mapping
            for key in ("cors_origins", "jwt_algorithms", "link_allowlist", "fhir_allowlist"):
                if key in data:
                    data[key] = _split_csv(data[key])
        return data

    @model_validator(mode="after")
    def _check_algorithms(self) -> Settings:
        allowed = {"ES384", "RS384", "ES256", "RS256", "ES512", "RS512", "PS384", "PS256"}
        bad = [alg for alg in self.jwt_algorithms if alg not in allowed]
        if bad:
            raise ValueError(f"jwt_algorithms: not allowed (asymmetric only): {', '.join(bad)}")
        return self

    @model_validator(mode="after")
    def _check_fhir_bases(self) -> Settings:
        listed = [("fhir_allowlist", url) for url in self.fhir_allowlist] + [
            (f"trusted_issuers[{iss!r}].fhir_servers", url)
            for iss, issuer in self.trusted_issuers.items()
            for url in issuer.fhir_servers
        ]
        for name, url in listed:
            problem = base_problem(url)
            if problem is not None:
                raise ValueError(f"{name}: {url!r} is not a FHIR base URL ({problem})")
        return self

    @model_validator(mode="after")
    def _check_timezone(self) -> Settings:
        if self.timezone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"timezone: unknown IANA zone {self.timezone!r}") from exc
        return self

    @property
    def auth_config(self) -> AuthConfig:
        """The authenticator's configuration."""
        return AuthConfig(
            issuers=self.trusted_issuers,
            algorithms=self.jwt_algorithms,
            clock_skew_seconds=float(self.jwt_clock_skew_seconds),
            jwks_min_refresh_seconds=self.jwks_min_refresh_seconds,
            replay_cache_max_entries=self.replay_cache_max_entries,
        )

    @property
    def effective_replay_cache(self) -> str:
        """``CDS_REPLAY_CACHE``, else the shared store when the store is PostgreSQL."""
        if self.replay_cache is not None:
            return self.replay_cache
        return "store" if self.effective_database_url.startswith("postgres") else "memory"

    @property
    def effective_database_url(self) -> str:
        """``CDS_DATABASE_URL``, or a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cds.db').resolve()}"
