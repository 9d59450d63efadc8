"""CDS client authentication: verify the EHR's signed JWT on every call (CDS Hooks §Trusting CDS Clients)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from cds_service.auth.config import AuthConfig, TrustedIssuer
from cds_service.auth.jwks import JwksCache
from cds_service.auth.replay import InMemoryReplayCache, ReplayCache
from cds_service.errors import AuthenticationFailed, KeyLookupFailed

MAX_TOKEN_CHARS = 16_384
MAX_JTI_CHARS = 256
_LOGGED_CLAIM_CHARS = 128
_SIGNATURE_OPTIONS: Any = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "enforce_minimum_key_length": True,
}


@dataclass(frozen=True)
class VerifiedClient:
    """The CDS client a request came from, after every check passed."""

    iss: str
    jti: str
    kid: str
    tenant: str | None
    expires_at: float


class _Reject(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClientAuthenticator:
    """Checks ``Authorization: Bearer <JWT>`` against the trusted issuers, their keys and the replay cache."""

    def __init__(
        self,
        config: AuthConfig,
        http: httpx.AsyncClient,
        *,
        replay_cache: ReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = config.issuers
        # The settings already refuse symmetric algorithms; refuse them here too, whatever is configured.
        self._algorithms = frozenset(a for a in config.algorithms if _is_asymmetric(a))
        self._skew = float(config.clock_skew_seconds)
        self._clock = clock
        self._keys = JwksCache(
            http, min_refresh_seconds=config.jwks_min_refresh_seconds, clock=clock
        )
        self._replay = replay_cache or InMemoryReplayCache(
            config.replay_cache_max_entries, skew_seconds=self._skew, clock=clock
        )

    async def authenticate(self, authorization: str | None, audience: str) -> VerifiedClient:
        """The verified client, or ``AuthenticationFailed`` naming the first check that failed."""
        claims: Mapping[str, Any] = {}
        try:
            token = _bearer_token(authorization)
            header, claims = _unverified(token)
            return await self._verify(token, header, claims, audience)
        except _Reject as exc:
            raise AuthenticationFailed(
                exc.reason, iss=_loggable(claims.get("iss")), jti=_loggable(claims.get("jti"))
            ) from None

    async def _verify(
        self, token: str, header: Mapping[str, Any], claims: Mapping[str, Any], audience: str
    ) -> VerifiedClient:
        iss, issuer = self._trusted_issuer(claims)
        _check_audience(claims, audience)
        expires_at = self._check_lifetime(claims)
        _check_tenant(claims, issuer)
        alg, kid = self._check_header(header)
        key = await self._key(header, issuer, kid, alg)
        verified = _verify_signature(token, key, alg)
        jti = await self._check_replay(iss, verified, expires_at)
        tenant = verified.get("tenant")
        return VerifiedClient(
            iss=iss,
            jti=jti,
            kid=kid,
            tenant=tenant if isinstance(tenant, str) else None,
            expires_at=expires_at,
        )

    def _trusted_issuer(self, claims: Mapping[str, Any]) -> tuple[str, TrustedIssuer]:
        iss = _required(claims, "iss")
        if not isinstance(iss, str) or iss not in self._issuers:
            raise _Reject("untrusted-issuer")
        return iss, self._issuers[iss]

    def _check_lifetime(self, claims: Mapping[str, Any]) -> float:
        now = self._clock()
        exp, iat = _timestamp(claims, "exp"), _timestamp(claims, "iat")
        if now >= exp + self._skew:
            raise _Reject("expired")
        if iat > now + self._skew:
            raise _Reject("issued-in-future")
        if "nbf" in claims and _timestamp(claims, "nbf") > now + self._skew:
            raise _Reject("not-yet-valid")
        return exp

    def _check_header(self, header: Mapping[str, Any]) -> tuple[str, str]:
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise _Reject("alg-not-allowed")
        if not isinstance(kid, str) or not kid:
            raise _Reject("missing-kid")
        return alg, kid

    async def _key(
        self, header: Mapping[str, Any], issuer: TrustedIssuer, kid: str, alg: str
    ) -> jwt.PyJWK:
        try:
            return await self._keys.key(_key_source(header, issuer), kid, alg)
        except KeyLookupFailed as exc:
            raise _Reject(exc.reason) from exc

    async def _check_replay(self, iss: str, verified: Mapping[str, Any], expires_at: float) -> str:
        jti = verified.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _Reject("missing-jti")
        if len(jti) > MAX_JTI_CHARS:
            raise _Reject("malformed-token")
        try:
            # Scoped by issuer, so one client's ids can never collide with another's.
            replayed = await self._replay.seen(f"{iss} {jti}", expires_at)
        except Exception as exc:  # a shared store being down must fail closed, not open
            raise _Reject("replay-cache-unavailable") from exc
        if replayed:
            raise _Reject("replayed-jti")
        return jti


def expected_audience(public_base_url: str | None, request_url: str, path: str) -> str:
    """The exact URL a client must put in ``aud``: the public base URL (else the request's) + path.

    ``request_url`` is the request's base URL (Starlette ``request.base_url``, which carries any
    root path) or its full URL; ``path`` may already start with that root path.
    """
    if public_base_url:
        return public_base_url.rstrip("/") + path
    parts = urlsplit(request_url)
    origin, base_path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        return origin + path
    return origin + base_path + path


def _bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise _Reject("missing-token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _Reject("malformed-token")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise _Reject("malformed-token")
    return token


def _unverified(token: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """Header and claims read without the signature: only to find iss, kid and jku and order the checks."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError) as exc:
        raise _Reject("malformed-token") from exc
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise _Reject("malformed-token")
    if "crit" in header or "b64" in header:
        raise _Reject("malformed-token")
    return header, claims


def _check_audience(claims: Mapping[str, Any], audience: str) -> None:
    aud = _required(claims, "aud")
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or audience not in values:
        raise _Reject("bad-audience")


def _check_tenant(claims: Mapping[str, Any], issuer: TrustedIssuer) -> None:
    if issuer.tenants and claims.get("tenant") not in issuer.tenants:
        raise _Reject("bad-tenant")


def _key_source(header: Mapping[str, Any], issuer: TrustedIssuer) -> str | Path:
    """Where the keys come from; a ``jku`` off the allow-list is refused before anything is fetched."""
    jku = header.get("jku")
    if jku is not None and (
        not isinstance(jku, str) or (jku != issuer.jwks_url and jku not in issuer.jku_allowlist)
    ):
        raise _Reject("jku-not-allowed")
    if issuer.jwks_file is not None:
        # A pinned key file wins over any allowed jku: the jku names the set, the file holds it
        # (how the CDS Hooks Sandbox is trusted offline).
        return issuer.jwks_file
    source = jku if isinstance(jku, str) else issuer.jwks_url
    if source is None:
        raise _Reject("jwks-unavailable")
    return source


def _verify_signature(token: str, key: jwt.PyJWK, alg: str) -> Mapping[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[alg], options=_SIGNATURE_OPTIONS
        )
    except jwt.InvalidSignatureError as exc:
        raise _Reject("bad-signature") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise _Reject("alg-not-allowed") from exc
    except jwt.InvalidKeyError as exc:
        raise _Reject("weak-key") from exc
    except jwt.PyJWTError as exc:
        raise _Reject("malformed-token") from exc
    return claims


def _required(claims: Mapping[str, Any], name: str) -> Any:
    if name not in claims or claims[name] is None:
        raise _Reject("missing-claim")
    return claims[name]


def _timestamp(claims: Mapping[str, Any], name: str) -> float:
    value = _required(claims, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Reject("malformed-token")
    try:
        seconds = float(value)
    except OverflowError as exc:
        raise _Reject("malformed-token") from exc
    if not math.isfinite(seconds):
        raise _Reject("malformed-token")
    return seconds


def _is_asymmetric(alg: str) -> bool:
    return alg[:2] in {"ES", "RS", "PS"}


def _loggable(value: object) -> str | None:
    """A claim fit for a log line: strings only, printable, bounded (the claims are unverified)."""
    if not isinstance(value, str):
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in value[:_LOGGED_CLAIM_CHARS])
