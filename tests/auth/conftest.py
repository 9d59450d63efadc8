"""Fixtures for client authentication: keys made here, a frozen clock, token minting, mocked JWKS."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cds_service.auth.authenticator import ClientAuthenticator
from cds_service.settings import Settings

ISS = "https://ehr.example.org"
JWKS_URL = "https://ehr.example.org/.well-known/jwks.json"
ALT_JKU = "https://keys.ehr.example.org/jwks.json"
AUDIENCE = "https://cds.example.org/cds-services/ketamine-infusion-check"
NOW = 1_800_000_000.0


@dataclass
class FrozenClock:
    """A clock the test moves by hand."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class SigningKey:
    """A private key with its kid, its JWS algorithm and its public JWK."""

    private: Any
    kid: str
    alg: str

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        algorithm = ECAlgorithm if self.alg.startswith("ES") else RSAAlgorithm
        jwk = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", **extra}


def make_ec_key(kid: str = "ec-1") -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP384R1()), kid, "ES384")


def make_rsa_key(kid: str = "rsa-1", alg: str = "RS384") -> SigningKey:
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid, alg)


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return make_ec_key()


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return make_rsa_key()


@dataclass
class Minter:
    """Builds tokens that pass every check unless a test overrides a claim or header."""

    clock: FrozenClock
    minted: list[str] = field(default_factory=list)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        base = {
            "iss": ISS,
            "aud": AUDIENCE,
            "iat": int(self.clock.now),
            "exp": int(self.clock.now) + 300,
            "jti": str(uuid.uuid4()),
        }
        return {name: value for name, value in {**base, **overrides}.items() if value is not None}

    def token(
        self, key: SigningKey, *, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        header = {"kid": key.kid, "typ": "JWT", **(headers or {})}
        token = jwt.encode(self.claims(**claims), key.private, algorithm=key.alg, headers=header)
        self.minted.append(token)
        return token

    def bearer(self, key: SigningKey, **kwargs: Any) -> str:
        return f"Bearer {self.token(key, **kwargs)}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def minter(clock: FrozenClock) -> Minter:
    return Minter(clock)


def auth_settings(**issuer: Any) -> Settings:
    config = {"jwks_url": JWKS_URL, "jku_allowlist": [ALT_JKU], **issuer}
    return Settings(
        _env_file=None,
        auth="jwt",
        trusted_issuers={ISS: config},
        jwt_clock_skew_seconds=60,
        jwks_min_refresh_seconds=60,
    )


@pytest.fixture
def settings() -> Settings:
    return auth_settings()


@pytest.fixture
def jwks_server(ec_key: SigningKey, rsa_key: SigningKey) -> Iterator[respx.MockRouter]:
    """A mocked EHR publishing the EC and RSA keys at JWKS_URL; no other host answers."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.get(JWKS_URL, name="jwks").respond(json=jwks(ec_key, rsa_key))
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


AuthFactory = Callable[..., ClientAuthenticator]


@pytest.fixture
def make_authenticator(http: httpx.AsyncClient, clock: FrozenClock) -> AuthFactory:
    def build(settings: Settings | None = None, **kwargs: Any) -> ClientAuthenticator:
        config = (settings or auth_settings()).auth_config
        return ClientAuthenticator(config, http, clock=clock, **kwargs)

    return build


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def to_json(value: Any) -> bytes:
    return json.dumps(value).encode()
