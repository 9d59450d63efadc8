"""ClientAuthenticator: good tokens pass; every forged, stale, replayed or misdirected one is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization

from cds_service.auth.authenticator import VerifiedClient
from cds_service.auth.replay import SharedReplayCache
from cds_service.errors import AuthenticationFailed, StoreUnavailable
from tests.auth.conftest import (
    ALT_JKU,
    AUDIENCE,
    ISS,
    JWKS_URL,
    AuthFactory,
    FrozenClock,
    Minter,
    SigningKey,
    auth_settings,
    jwks,
    make_ec_key,
    make_rsa_key,
)

pytestmark = pytest.mark.anyio


async def refused(
    make_authenticator: AuthFactory, authorization: str | None
) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        await make_authenticator().authenticate(authorization, AUDIENCE)
    return caught.value


def _b64(data: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- good paths


async def test_authenticate_when_es384_token_valid_returns_client(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    client = await make_authenticator().authenticate(minter.bearer(ec_key, jti="j-1"), AUDIENCE)

    assert client == VerifiedClient(
        iss=ISS, jti="j-1", kid=ec_key.kid, tenant=None, expires_at=minter.clock.now + 300
    )


async def test_authenticate_when_rs384_token_valid_returns_client(
    make_authenticator: AuthFactory,
    minter: Minter,
    rsa_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    client = await make_authenticator().authenticate(minter.bearer(rsa_key), AUDIENCE)

    assert client.kid == rsa_key.kid


async def test_authenticate_when_jku_is_the_issuer_jwks_url_passes(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = minter.bearer(ec_key, headers={"jku": JWKS_URL})

    assert (await make_authenticator().authenticate(token, AUDIENCE)).iss == ISS


async def test_authenticate_when_jku_allowlisted_fetches_keys_from_jku(
    make_authenticator: AuthFactory, minter: Minter, jwks_server: respx.MockRouter
) -> None:
    other = make_ec_key("alt-1")
    alt_route = jwks_server.get(ALT_JKU).respond(json=jwks(other))
    token = minter.bearer(other, headers={"jku": ALT_JKU})

    client = await make_authenticator().authenticate(token, AUDIENCE)

    assert client.kid == "alt-1"
    assert alt_route.call_count == 1
    assert jwks_server["jwks"].call_count == 0


async def test_authenticate_when_aud_is_a_list_containing_the_url_passes(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = minter.bearer(ec_key, aud=["https://other.example.org", AUDIENCE])

    assert (await make_authenticator().authenticate(token, AUDIENCE)).iss == ISS


async def test_authenticate_when_tenant_listed_returns_tenant(
    http: httpx.AsyncClient,
    clock: FrozenClock,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
    make_authenticator: AuthFactory,
) -> None:
    authenticator = make_authenticator(auth_settings(tenants=["hospital-a"]))

    client = await authenticator.authenticate(minter.bearer(ec_key, tenant="hospital-a"), AUDIENCE)

    assert client.tenant == "hospital-a"


async def test_authenticate_when_exp_just_past_but_within_skew_passes(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = minter.bearer(ec_key, exp=int(minter.clock.now) - 30)

    assert (await make_authenticator().authenticate(token, AUDIENCE)).iss == ISS


async def test_authenticate_when_keys_cached_fetches_jwks_once(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    rsa_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    authenticator = make_authenticator()
    for key in (ec_key, rsa_key, ec_key):
        await authenticator.authenticate(minter.bearer(key), AUDIENCE)

    assert jwks_server["jwks"].call_count == 1


async def test_authenticate_when_key_rotated_refetches_after_min_interval_only(
    make_authenticator: AuthFactory,
    minter: Minter,
    clock: FrozenClock,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    authenticator = make_authenticator()
    await authenticator.authenticate(minter.bearer(ec_key), AUDIENCE)
    rotated = make_ec_key("ec-2")
    jwks_server["jwks"].respond(json=jwks(ec_key, rotated))

    clock.now += 10
    with pytest.raises(AuthenticationFailed) as too_soon:
        await authenticator.authenticate(minter.bearer(rotated), AUDIENCE)
    clock.now += 60
    client = await authenticator.authenticate(minter.bearer(rotated), AUDIENCE)

    assert too_soon.value.reason == "unknown-kid"
    assert client.kid == "ec-2"
    assert jwks_server["jwks"].call_count == 2


async def test_authenticate_when_jwks_down_after_first_fetch_keeps_known_keys(
    make_authenticator: AuthFactory,
    minter: Minter,
    clock: FrozenClock,
    ec_key: SigningKey,
    rsa_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    authenticator = make_authenticator()
    await authenticator.authenticate(minter.bearer(ec_key), AUDIENCE)
    jwks_server["jwks"].respond(503)
    clock.now += 120

    with pytest.raises(AuthenticationFailed) as unknown:
        await authenticator.authenticate(minter.bearer(make_ec_key("new")), AUDIENCE)
    client = await authenticator.authenticate(minter.bearer(rsa_key), AUDIENCE)

    assert unknown.value.reason == "unknown-kid"
    assert client.kid == rsa_key.kid


# --- rejections, one per check


async def test_authenticate_when_header_missing_refuses_missing_token(
    make_authenticator: AuthFactory,
) -> None:
    assert (await refused(make_authenticator, None)).reason == "missing-token"


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c", "Bearer " + "a." * 9000],
)
async def test_authenticate_when_token_malformed_refuses_malformed(
    make_authenticator: AuthFactory, authorization: str
) -> None:
    assert (await refused(make_authenticator, authorization)).reason == "malformed-token"


async def test_authenticate_when_alg_none_refuses_without_fetching(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": ec_key.kid}
    token = f"{_b64(header)}.{_b64(minter.claims())}."

    failure = await refused(make_authenticator, f"Bearer {token}")

    assert failure.reason == "alg-not-allowed"
    assert failure.iss == ISS
    assert jwks_server["jwks"].call_count == 0


async def test_authenticate_when_hs256_signed_with_public_key_pem_refuses(
    make_authenticator: AuthFactory,
    minter: Minter,
    rsa_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT refuses to HMAC-sign with a PEM, so the classic key-confusion token is built by hand.
    token = _hs256_token({"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}, minter.claims(), pem)

    assert (await refused(make_authenticator, f"Bearer {token}")).reason == "alg-not-allowed"


def _hs256_token(header: dict[str, object], claims: dict[str, object], secret: bytes) -> str:
    import hashlib
    import hmac

    signing_input = f"{_b64(header)}.{_b64(claims)}"
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


async def test_authenticate_when_rs256_not_allowed_refuses(
    make_authenticator: AuthFactory, minter: Minter, jwks_server: respx.MockRouter
) -> None:
    rs256 = make_rsa_key("rsa-256", alg="RS256")
    jwks_server["jwks"].respond(json=jwks(rs256))

    assert (await refused(make_authenticator, minter.bearer(rs256))).reason == "alg-not-allowed"


async def test_authenticate_when_expired_refuses_expired(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = minter.bearer(ec_key, iat=int(minter.clock.now) - 600, exp=int(minter.clock.now) - 61)

    assert (await refused(make_authenticator, token)).reason == "expired"


async def test_authenticate_when_iat_in_future_refuses(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = minter.bearer(ec_key, iat=int(minter.clock.now) + 120)

    assert (await refused(make_authenticator, token)).reason == "issued-in-future"


async def test_authenticate_when_aud_is_another_url_refuses(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = minter.bearer(ec_key, aud="https://cds.example.org/cds-services")

    assert (await refused(make_authenticator, token)).reason == "bad-audience"


async def test_authenticate_when_issuer_unknown_refuses_without_fetching(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    failure = await refused(make_authenticator, minter.bearer(ec_key, iss="https://evil.example"))

    assert (failure.reason, failure.iss) == ("untrusted-issuer", "https://evil.example")
    assert jwks_server["jwks"].call_count == 0


async def test_authenticate_when_jku_off_allowlist_refuses_without_any_request(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    evil = "https://evil.example/jwks.json"
    evil_route = jwks_server.get(evil).respond(json=jwks(ec_key))
    token = minter.bearer(ec_key, headers={"jku": evil})

    assert (await refused(make_authenticator, token)).reason == "jku-not-allowed"
    assert jwks_server.calls.call_count == 0
    assert evil_route.call_count == 0


async def test_authenticate_when_kid_unknown_refuses_unknown_kid(
    make_authenticator: AuthFactory, minter: Minter, jwks_server: respx.MockRouter
) -> None:
    stranger = make_ec_key("never-published")

    assert (await refused(make_authenticator, minter.bearer(stranger))).reason == "unknown-kid"


async def test_authenticate_when_signed_by_unknown_key_under_known_kid_refuses(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    impostor = make_ec_key(ec_key.kid)

    assert (await refused(make_authenticator, minter.bearer(impostor))).reason == "bad-signature"


async def test_authenticate_when_kid_missing_refuses(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = jwt.encode(minter.claims(), ec_key.private, algorithm="ES384")

    assert (await refused(make_authenticator, f"Bearer {token}")).reason == "missing-kid"


async def test_authenticate_when_payload_tampered_refuses_bad_signature(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    header, _, signature = minter.token(ec_key).split(".")
    forged = _b64(minter.claims(aud=[AUDIENCE, "https://elsewhere.example"]))

    failure = await refused(make_authenticator, f"Bearer {header}.{forged}.{signature}")

    assert failure.reason == "bad-signature"


async def test_authenticate_when_key_type_does_not_match_alg_refuses(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    rsa_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = minter.bearer(rsa_key, headers={"kid": ec_key.kid})

    assert (await refused(make_authenticator, token)).reason == "alg-not-allowed"


async def test_authenticate_when_jti_missing_refuses(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = jwt.encode(
        {k: v for k, v in minter.claims().items() if k != "jti"},
        ec_key.private,
        algorithm="ES384",
        headers={"kid": ec_key.kid},
    )

    assert (await refused(make_authenticator, f"Bearer {token}")).reason == "missing-jti"


async def test_authenticate_when_jti_replayed_refuses_second_use(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    authenticator = make_authenticator()
    token = minter.bearer(ec_key, jti="once")
    await authenticator.authenticate(token, AUDIENCE)

    with pytest.raises(AuthenticationFailed) as caught:
        await authenticator.authenticate(token, AUDIENCE)

    assert (caught.value.reason, caught.value.jti) == ("replayed-jti", "once")


async def test_authenticate_when_the_shared_replay_store_is_down_refuses_the_token(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    async def store_down(key: str, expires_at: float) -> bool:
        raise StoreUnavailable("no database connection within the bounded wait")

    authenticator = make_authenticator(replay_cache=SharedReplayCache(store_down))

    with pytest.raises(AuthenticationFailed) as caught:
        await authenticator.authenticate(minter.bearer(ec_key), AUDIENCE)
    assert caught.value.reason == "replay-cache-unavailable"


async def test_authenticate_when_forged_token_reuses_jti_does_not_burn_it(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    authenticator = make_authenticator()
    with pytest.raises(AuthenticationFailed):
        await authenticator.authenticate(minter.bearer(make_ec_key(ec_key.kid), jti="j"), AUDIENCE)

    assert (await authenticator.authenticate(minter.bearer(ec_key, jti="j"), AUDIENCE)).jti == "j"


async def test_authenticate_when_tenant_not_listed_refuses(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    authenticator = make_authenticator(auth_settings(tenants=["hospital-a"]))

    with pytest.raises(AuthenticationFailed) as caught:
        await authenticator.authenticate(minter.bearer(ec_key, tenant="hospital-b"), AUDIENCE)

    assert caught.value.reason == "bad-tenant"


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat"])
async def test_authenticate_when_required_claim_missing_refuses(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
    claim: str,
) -> None:
    claims = {k: v for k, v in minter.claims().items() if k != claim}
    token = jwt.encode(claims, ec_key.private, algorithm="ES384", headers={"kid": ec_key.kid})

    assert (await refused(make_authenticator, f"Bearer {token}")).reason == "missing-claim"


async def test_authenticate_when_jwks_unreachable_refuses_jwks_unavailable(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    jwks_server["jwks"].mock(side_effect=httpx.ConnectError("down"))

    assert (await refused(make_authenticator, minter.bearer(ec_key))).reason == "jwks-unavailable"


async def test_authenticate_when_failure_logged_fields_never_carry_the_token(
    make_authenticator: AuthFactory,
    minter: Minter,
    ec_key: SigningKey,
    jwks_server: respx.MockRouter,
) -> None:
    token = minter.bearer(ec_key, aud="https://wrong.example")

    failure = await refused(make_authenticator, token)

    assert token.split()[1] not in f"{failure} {failure.reason} {failure.iss} {failure.jti}"
    assert failure.__cause__ is None
