"""Key sources: a pinned JWKS file, a real JWKS endpoint on loopback, and unusable JWK Sets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from cds_service.auth.authenticator import ClientAuthenticator
from cds_service.auth.jwks import parse_jwks
from cds_service.errors import AuthenticationFailed
from tests.auth.conftest import (
    AUDIENCE,
    ISS,
    FrozenClock,
    Minter,
    SigningKey,
    auth_settings,
    jwks,
    make_ec_key,
)

pytestmark = pytest.mark.anyio

SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"


@pytest.fixture
def jwks_file(tmp_path: Path, ec_key: SigningKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(ec_key)))
    return path


@pytest.fixture
def loopback_jwks(ec_key: SigningKey, rsa_key: SigningKey) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 serving the JWKS; yields its URL and the paths requested."""
    body = json.dumps(jwks(ec_key, rsa_key)).encode()
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_authenticate_when_jwks_served_on_loopback_verifies_both_key_types(
    loopback_jwks: tuple[str, list[str]],
    minter: Minter,
    clock: FrozenClock,
    ec_key: SigningKey,
    rsa_key: SigningKey,
) -> None:
    url, requested = loopback_jwks
    async with httpx.AsyncClient() as http:
        authenticator = ClientAuthenticator(
            auth_settings(jwks_url=url).auth_config, http, clock=clock
        )
        clients = [
            await authenticator.authenticate(minter.bearer(key, headers={"jku": url}), AUDIENCE)
            for key in (ec_key, rsa_key)
        ]

    assert [c.kid for c in clients] == [ec_key.kid, rsa_key.kid]
    assert requested == ["/jwks.json"]


async def test_authenticate_when_jwks_file_pinned_and_jku_allowlisted_uses_file_only(
    jwks_file: Path, minter: Minter, clock: FrozenClock, ec_key: SigningKey
) -> None:
    settings = auth_settings(jwks_url=None, jwks_file=str(jwks_file), jku_allowlist=[SANDBOX_JKU])
    # No mock router: any network fetch would fail the test with a connection error.
    transport = httpx.MockTransport(lambda request: pytest.fail(f"fetched {request.url}"))
    async with httpx.AsyncClient(transport=transport) as http:
        authenticator = ClientAuthenticator(settings.auth_config, http, clock=clock)
        client = await authenticator.authenticate(
            minter.bearer(ec_key, headers={"jku": SANDBOX_JKU}), AUDIENCE
        )

    assert client.iss == ISS


async def test_authenticate_when_jwks_file_and_jku_not_allowlisted_refuses(
    jwks_file: Path, minter: Minter, clock: FrozenClock, ec_key: SigningKey
) -> None:
    settings = auth_settings(jwks_url=None, jwks_file=str(jwks_file), jku_allowlist=[])
    async with httpx.AsyncClient() as http:
        authenticator = ClientAuthenticator(settings.auth_config, http, clock=clock)
        with pytest.raises(AuthenticationFailed) as caught:
            await authenticator.authenticate(
                minter.bearer(ec_key, headers={"jku": SANDBOX_JKU}), AUDIENCE
            )

    assert caught.value.reason == "jku-not-allowed"


async def test_authenticate_when_jwks_file_missing_refuses_jwks_unavailable(
    tmp_path: Path, minter: Minter, clock: FrozenClock, ec_key: SigningKey
) -> None:
    settings = auth_settings(jwks_url=None, jwks_file=str(tmp_path / "absent.json"))
    async with httpx.AsyncClient() as http:
        authenticator = ClientAuthenticator(settings.auth_config, http, clock=clock)
        with pytest.raises(AuthenticationFailed) as caught:
            await authenticator.authenticate(minter.bearer(ec_key), AUDIENCE)

    assert caught.value.reason == "jwks-unavailable"


def test_parse_jwks_when_entries_unusable_keeps_only_public_signing_keys(
    ec_key: SigningKey,
) -> None:
    good = ec_key.public_jwk()
    private = {**make_ec_key("priv").public_jwk(), "d": "AAAA"}
    document = {
        "keys": [
            good,
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {**make_ec_key("enc").public_jwk(), "use": "enc"},
            {**make_ec_key("nokid").public_jwk(), "kid": None},
            private,
            {"kty": "EC", "kid": "broken", "crv": "P-384", "x": "!!", "y": "??"},
            "not-a-key",
        ]
    }

    assert list(parse_jwks(json.dumps(document).encode()).keys) == [ec_key.kid]


@pytest.mark.parametrize("raw", [b"[]", b'{"keys": {}}', b"not json"])
def test_parse_jwks_when_not_a_jwk_set_raises(raw: bytes) -> None:
    with pytest.raises(ValueError, match=r".+"):
        parse_jwks(raw)


def test_parse_jwks_nested_too_deeply_is_not_a_jwk_set() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_jwks(b"[" * 100_000 + b"]" * 100_000)
